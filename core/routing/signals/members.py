"""Learners of P(a model is right), as plain numbers: logistic regression, kNN, gradient boosting.

Each member is fitted by scikit-learn (or, for kNN, is its stored neighbours) and then *predicts
from its stored numbers only*, in memory and after a JSON round trip alike:

* :class:`LinearMember`: ``sigmoid(X @ coef + intercept)`` (C = 0.3 on sparse TF-IDF blocks,
  0.1 on dense ones);
* :class:`NeighbourMember`: the share of right answers among the k most cosine-similar training
  prompts, k = clip(sqrt(n), 15, 100); one neighbour search serves every model's labels (rows
  where a model has no score are skipped in its average); vectors stored as float16;
* :class:`TreeMember`: scikit-learn's HistGradientBoostingClassifier (100 trees of 8 leaves,
  learning rate 0.05), its trees exported as arrays and walked in numpy (checked against
  scikit-learn's own probabilities when exported).

Every member handles several targets (one column of labels per model) so that cross-validation
fits each (features, learner) pair once per fold. A target seen with one class only predicts
its rate.

>>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); Y = np.array([[0, 0], [0, 1], [1, 1], [1, 1.0]])
>>> m = LinearMember(C=10.0).fit(X, Y)
>>> p = m.predict(X); bool(p[0, 0] < 0.5 < p[3, 0])
True
>>> np.allclose(member_from_dict(m.to_dict()).predict(X), p)
True
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from core.routing.packing import pack, unpack


@contextmanager
def one_thread():
    """Run scikit-learn and BLAS on one thread inside the block.

    On a shared machine with few cores, BLAS and OpenMP thread pools oversubscribe it: one
    gradient-boosting fit took 28 s with the default pools and 2.9 s with one thread. Pools are
    only limited once their library is loaded, so the learners are imported first.
    """
    import sklearn.ensemble  # loads OpenMP
    import sklearn.linear_model  # noqa: F401  (loads BLAS)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))


def _targets(Y) -> np.ndarray:
    Y = np.asarray(Y, dtype=float)
    return Y[:, None] if Y.ndim == 1 else Y


class Member(ABC):
    """A fitted P(correct) learner for several targets. ``predict(X) -> [n, targets]``."""

    learner: ClassVar[str] = "member"

    @abstractmethod
    def fit(self, X, Y) -> Member:
        """Fit one learner per target column of ``Y``."""

    @abstractmethod
    def predict(self, X) -> np.ndarray:
        """P(correct) per row and target."""

    @abstractmethod
    def restricted(self, columns) -> Member:
        """The same member keeping only some targets (a smaller saved policy)."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form that ``member_from_dict`` reads back."""


# ---------------------------------------------------------------------------------------------
class LinearMember(Member):
    """Logistic regression per target (scikit-learn's lbfgs), kept as coefficients."""

    learner = "lr"

    def __init__(self, C: float | None = None):
        self.C = C

    def fit(self, X, Y) -> LinearMember:
        from sklearn.linear_model import LogisticRegression

        Y = _targets(Y)
        C = self.C if self.C is not None else (0.3 if sp.issparse(X) else 0.1)
        coef = np.zeros((X.shape[1], Y.shape[1]))
        intercept = np.zeros(Y.shape[1])
        for j in range(Y.shape[1]):
            rows = np.flatnonzero(~np.isnan(Y[:, j]))
            y = (Y[rows, j] >= 0.5).astype(int)
            if len(y) == 0 or y.min() == y.max():
                rate = float(np.clip(y.mean() if len(y) else 0.5, 1e-4, 1 - 1e-4))
                intercept[j] = np.log(rate / (1 - rate))
                continue
            clf = LogisticRegression(C=C, max_iter=1000).fit(X[rows], y)
            coef[:, j], intercept[j] = clf.coef_[0], clf.intercept_[0]
        self.coef_, self.intercept_ = coef, intercept
        return self

    def predict(self, X) -> np.ndarray:
        return sigmoid(np.asarray(X @ self.coef_) + self.intercept_[None, :])

    def restricted(self, columns) -> LinearMember:
        m = LinearMember(self.C)
        m.coef_, m.intercept_ = self.coef_[:, columns], self.intercept_[columns]
        return m

    def to_dict(self) -> dict[str, Any]:
        return {"learner": self.learner, "C": self.C, "coef": pack(self.coef_),
                "intercept": pack(self.intercept_)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearMember:
        m = cls(d.get("C"))
        m.coef_, m.intercept_ = unpack(d["coef"]), unpack(d["intercept"])
        return m


# ---------------------------------------------------------------------------------------------
def neighbours_k(n: int) -> int:
    return int(np.clip(np.sqrt(n), 15, 100))


def _unit(X) -> np.ndarray:
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, 1e-12)


def neighbour_rates(V: np.ndarray, labels: np.ndarray, X: np.ndarray, k: int,
                    chunk: int = 1024) -> np.ndarray:
    """Mean label [n, targets] over each row's k most cosine-similar rows of ``V`` (unit rows;
    NaN labels skipped; a row with no labelled neighbour gets the labels' mean)."""
    k = int(min(k, len(V)))
    known = ~np.isnan(labels)
    filled = np.where(known, labels, 0.0)
    fallback = np.nanmean(labels, axis=0) if known.any() else np.full(labels.shape[1], 0.5)
    out = np.empty((len(X), labels.shape[1]))
    for start in range(0, len(X), chunk):
        sims = X[start:start + chunk] @ V.T
        idx = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < len(V) else \
            np.broadcast_to(np.arange(len(V)), (len(sims), len(V)))
        num = filled[idx].sum(axis=1)
        den = known[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + chunk] = np.where(den > 0, num / np.maximum(den, 1), fallback)
    return out


class NeighbourMember(Member):
    """kNN on cosine similarity: the stored training vectors (float16) and their labels."""

    learner = "knn"

    def __init__(self, k: int | None = None):
        self.k = k

    def fit(self, X, Y) -> NeighbourMember:
        self.vectors_ = _unit(X).astype(np.float16)
        self.labels_ = _targets(Y).astype(np.float32)
        self.k_ = int(self.k or neighbours_k(len(self.labels_)))
        return self

    def predict(self, X) -> np.ndarray:
        return neighbour_rates(self.vectors_.astype(np.float32), self.labels_.astype(float),
                               _unit(X), self.k_)

    def restricted(self, columns) -> NeighbourMember:
        m = NeighbourMember(self.k)
        m.vectors_, m.labels_, m.k_ = self.vectors_, self.labels_[:, columns], self.k_
        return m

    def to_dict(self) -> dict[str, Any]:
        return {"learner": self.learner, "k": self.k_, "vectors": pack(self.vectors_),
                "labels": pack(self.labels_)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NeighbourMember:
        m = cls(int(d["k"]))
        m.vectors_, m.labels_, m.k_ = unpack(d["vectors"]), unpack(d["labels"]), int(d["k"])
        return m


# ---------------------------------------------------------------------------------------------
_NODE_FIELDS = ("feature_idx", "num_threshold", "missing_go_to_left", "left", "right", "is_leaf",
                "value")


class TreeMember(Member):
    """Gradient-boosted trees per target (scikit-learn's HistGradientBoostingClassifier, one
    thread), exported as node arrays: ``raw = baseline + sum of leaf values``, P = sigmoid(raw).
    """

    learner = "hgb"
    PARAMS = dict(max_iter=100, learning_rate=0.05, max_leaf_nodes=8, l2_regularization=1.0,
                  early_stopping=False, random_state=0)

    def fit(self, X, Y) -> TreeMember:
        from sklearn.ensemble import HistGradientBoostingClassifier

        X = np.asarray(X, dtype=float)
        Y = _targets(Y)
        self.models_ = []
        for j in range(Y.shape[1]):
            rows = np.flatnonzero(~np.isnan(Y[:, j]))
            y = (Y[rows, j] >= 0.5).astype(int)
            if len(y) == 0 or y.min() == y.max():
                rate = float(np.clip(y.mean() if len(y) else 0.5, 1e-4, 1 - 1e-4))
                self.models_.append({"baseline": float(np.log(rate / (1 - rate))), "trees": []})
                continue
            clf = HistGradientBoostingClassifier(min_samples_leaf=max(20, len(rows) // 100),
                                                 **self.PARAMS).fit(X[rows], y)
            model = export_trees(clf)
            expected = clf.predict_proba(X[rows[:200]])[:, 1]
            if not np.allclose(_walk(model, X[rows[:200]]), expected, atol=1e-6):
                raise RuntimeError("scikit-learn's gradient-boosting trees could not be exported "
                                   f"faithfully (scikit-learn {_sklearn_version()})")
            self.models_.append(model)
        return self

    def predict(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        return np.column_stack([_walk(m, X) for m in self.models_]) if self.models_ else \
            np.zeros((len(X), 0))

    def restricted(self, columns) -> TreeMember:
        m = TreeMember()
        m.models_ = [self.models_[j] for j in np.atleast_1d(columns)]
        return m

    def to_dict(self) -> dict[str, Any]:
        return {"learner": self.learner,
                "models": [{"baseline": m["baseline"],
                            "trees": [{f: pack(t[f]) for f in _NODE_FIELDS} for t in m["trees"]]}
                           for m in self.models_]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TreeMember:
        m = cls()
        m.models_ = [{"baseline": float(x["baseline"]),
                      "trees": [{f: unpack(t[f]) for f in _NODE_FIELDS} for t in x["trees"]]}
                     for x in d["models"]]
        return m


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__


def export_trees(clf) -> dict[str, Any]:
    """A fitted binary HistGradientBoostingClassifier as ``{"baseline", "trees": [node arrays]}``.

    scikit-learn keeps its trees in attributes it does not document (``_predictors``,
    ``_baseline_prediction``); :class:`TreeMember` checks the export against ``predict_proba``.
    """
    trees = []
    for (predictor,) in clf._predictors:
        nodes = predictor.nodes
        trees.append({"feature_idx": nodes["feature_idx"].astype(np.int32),
                      "num_threshold": nodes["num_threshold"].astype(np.float64),
                      "missing_go_to_left": nodes["missing_go_to_left"].astype(np.uint8),
                      "left": nodes["left"].astype(np.int32), "right": nodes["right"].astype(np.int32),
                      "is_leaf": nodes["is_leaf"].astype(np.uint8),
                      "value": nodes["value"].astype(np.float64)})
    return {"baseline": float(np.ravel(clf._baseline_prediction)[0]), "trees": trees}


def _walk(model: dict[str, Any], X: np.ndarray) -> np.ndarray:
    """P(class 1) of exported trees on the rows of X (a missing value follows the tree's rule)."""
    raw = np.full(len(X), model["baseline"])
    rows = np.arange(len(X))
    for t in model["trees"]:
        node = np.zeros(len(X), dtype=np.int64)
        leaf = t["is_leaf"].astype(bool)
        for _ in range(64):
            active = ~leaf[node]
            if not active.any():
                break
            x = X[rows, t["feature_idx"][node]]
            go_left = np.where(np.isnan(x), t["missing_go_to_left"][node].astype(bool),
                               x <= t["num_threshold"][node])
            node = np.where(active, np.where(go_left, t["left"][node], t["right"][node]), node)
        raw += t["value"][node]
    return sigmoid(raw)


MEMBERS: dict[str, type[Member]] = {"lr": LinearMember, "knn": NeighbourMember, "hgb": TreeMember}


def make_member(learner: str) -> Member:
    if learner not in MEMBERS:
        raise ValueError(f"unknown learner {learner!r}; known: {', '.join(MEMBERS)}")
    return MEMBERS[learner]()


def member_from_dict(d: dict[str, Any]) -> Member:
    return MEMBERS[d["learner"]].from_dict(d)

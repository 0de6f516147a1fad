"""Learned correctness: scikit-learn predicts, per item, the probability that a model is right.

:class:`LearnedCorrectness` is a cascade **signal**: the learned probability that the step's
model answered correctly, from the item's text, task and metadata (and, optionally, whether a
few other models gave the same answer). The learned router policy
(:mod:`core.routing.policies.learned`) uses the same probabilities before any call.

**Saving.** ``to_dict()`` is plain JSON, never a pickle (a pickle in a downloaded policy file would
run code when loaded): the TF-IDF vocabulary and idf weights, the one-hot categories, the numeric
scalers and, per model, the logistic-regression coefficients and intercept. Predictions are always
computed from those stored numbers (``sigmoid(X @ coef + intercept)``), in memory and after a JSON
round trip alike, so a reloaded policy routes every item exactly as the fitted one did.
``format`` and ``sklearn_version`` fields record how it was made; ``sha256`` covers the numbers
and is checked on load.

>>> import pandas as pd
>>> items = pd.DataFrame({"item_id": ["1", "2", "3", "4"], "input": ["easy one", "hard sum",
...                       "easy two", "hard proof"]})
>>> es = EvalSet.from_arrays("t", ["small"], score=[[1.0], [0.0], [1.0], [0.0]], items=items)
>>> sig = LearnedCorrectness(C=10.0).fit(es)
>>> bool(sig.scores(es, "small")[0] > 0.5 > sig.scores(es, "small")[1])
True
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import sklearn
from sklearn.linear_model import LogisticRegression

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.signals.base import Signal
from core.routing.signals.features import ItemFeatures

FORMAT = "tradeoff-linear-v1"


def _fit_linear(X: sp.csr_matrix, y: np.ndarray, C: float) -> tuple[np.ndarray, float]:
    """Logistic regression coefficients; a constant model when only one class was seen."""
    if len(y) == 0:
        return np.zeros(X.shape[1]), 0.0
    rate = float(y.mean())
    if rate in (0.0, 1.0):
        p = np.clip(rate, 0.01, 0.99)
        return np.zeros(X.shape[1]), float(np.log(p / (1 - p)))
    clf = LogisticRegression(C=C, max_iter=2000, solver="liblinear", random_state=0)
    clf.fit(X, y)
    return clf.coef_[0].astype(float), float(clf.intercept_[0])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _agreement_block(evalset: EvalSet, model: str, others: list[str]) -> sp.csr_matrix:
    """Per other model: 1 where it gave ``model``'s answer (the cheap-model vote as a feature)."""
    keys = evalset.conclusions()
    own = keys[:, evalset.model_index(model)]
    has = ~pd.isna(own)
    cols = [((keys[:, evalset.model_index(o)] == own) & has).astype(float) for o in others]
    if not cols:
        return sp.csr_matrix((evalset.n_items, 0))
    block = np.column_stack(cols)
    return sp.csr_matrix(np.column_stack([block, block.mean(axis=1)]))


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class LearnedCorrectness(Signal):
    """Learned probability that a model's answer is right (score >= 0.5), per item.

    One logistic regression per model over :class:`ItemFeatures`; with ``consult=[...]`` it also
    sees which of those models gave the same answer (they are then called, and paid for, at the
    step: :meth:`consulted`). Rows where a model has no score are left out of its training.

    Parameters: ``models`` (None: every model of the eval set it is fitted on), ``consult``,
    ``C`` (inverse regularisation), ``max_features`` (TF-IDF vocabulary), ``features`` (an
    :class:`ItemFeatures` to share; fitted here when it is not yet). Fitted: ``weights_``
    (model -> (coef, intercept)), ``train_rate_``, ``fitted_on_``, ``features_``.
    """

    kind = "learned"

    def __init__(self, models: list[str] | tuple[str, ...] | None = None,
                 consult: list[str] | tuple[str, ...] | None = None, C: float = 1.0,
                 max_features: int = 4000, features: ItemFeatures | None = None):
        self.models = tuple(models) if models else None
        self.consult = tuple(consult or ())
        self.C = float(C)
        self.max_features = int(max_features)
        self.features = features

    @property
    def is_fitted(self) -> bool:
        return bool(getattr(self, "weights_", None))

    # -- Signal interface ----------------------------------------------------------------------
    def fit(self, evalset: EvalSet) -> LearnedCorrectness:
        models = self.models or evalset.models
        for m in models:
            evalset.model_index(m)  # unknown model -> InputError naming it
        if evalset.n_items < 2:
            raise InputError(f"{evalset.name}: the learned signal needs at least 2 scored items")
        # Several signals may share one ItemFeatures, fitted once by the caller (text features
        # are unsupervised, so fitting them on more rows than the labels leaks nothing).
        features = self.features if self.features is not None else ItemFeatures(self.max_features)
        if not features.is_fitted:
            features.fit(evalset)
        self.features_ = features
        X = features.transform(evalset)
        weights, rates = {}, {}
        for m in models:
            y_all = evalset.score[:, evalset.model_index(m)]
            rows = np.flatnonzero(~np.isnan(y_all))
            Xm = self._with_agreement(evalset, m, X)
            y = (y_all[rows] >= 0.5).astype(int)
            weights[m] = _fit_linear(Xm[rows], y, self.C)
            rates[m] = float(y.mean()) if len(y) else float("nan")
        self.weights_, self.train_rate_ = weights, rates
        self.fitted_on_ = {"evalset": evalset.name, "items": evalset.n_items}
        return self

    def scores(self, evalset: EvalSet, model: str) -> np.ndarray:
        return self._predict(evalset, model, self._features().transform(evalset))

    def consulted(self, evalset: EvalSet, model: str) -> list[str]:
        return [m for m in self.consult if m != model]

    def models_consulted(self) -> tuple[str, ...]:
        return self.consult

    def label(self) -> str:
        extra = f" + agreement of {', '.join(self.consult)}" if self.consult else ""
        return "learned P(correct) from text and metadata" + extra

    # -- batch prediction ----------------------------------------------------------------------
    def probabilities(self, evalset: EvalSet, models: list[str] | tuple[str, ...]) -> np.ndarray:
        """P(correct) [n_items, len(models)], features computed once."""
        X = self._features().transform(evalset)
        return np.column_stack([self._predict(evalset, m, X) for m in models]) if models else \
            np.zeros((evalset.n_items, 0))

    def _features(self) -> ItemFeatures:
        if not self.is_fitted:
            raise InputError("The learned signal is not fitted yet: fit it on a labeled eval set")
        return self.features_

    def _predict(self, evalset: EvalSet, model: str, X: sp.csr_matrix) -> np.ndarray:
        if model not in self.weights_:
            raise InputError(f"The learned signal was not trained for model '{model}'; it knows "
                             f"{', '.join(self.weights_)}")
        coef, intercept = self.weights_[model]
        Xm = self._with_agreement(evalset, model, X)
        return _sigmoid(np.asarray(Xm @ coef).ravel() + intercept)

    def _with_agreement(self, evalset: EvalSet, model: str, X: sp.csr_matrix) -> sp.csr_matrix:
        others = self.consulted(evalset, model)
        if not others:
            return X
        return sp.hstack([X, _agreement_block(evalset, model, others)], format="csr")

    def restricted(self, models) -> LearnedCorrectness:
        """The same fitted signal keeping only ``models``' weights (a smaller saved policy)."""
        sig = LearnedCorrectness(tuple(models), self.consult, self.C, self.max_features,
                                 features=self.features_)
        sig.features_ = self.features_
        sig.weights_ = {m: self.weights_[m] for m in models if m in self.weights_}
        sig.train_rate_ = {m: self.train_rate_[m] for m in models if m in self.train_rate_}
        sig.fitted_on_ = dict(self.fitted_on_)
        return sig

    # -- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        spec = {"kind": self.kind, "C": self.C, "consult": list(self.consult),
                "fit_models": list(self.models) if self.models else None}
        if not self.is_fitted:
            return {**spec, "features": {"max_features": self.max_features}}
        body = {
            "features": self.features_.to_dict(),
            "models": {m: {"coef": [float(x) for x in c], "intercept": float(b),
                           "train_rate": self.train_rate_.get(m)}
                       for m, (c, b) in self.weights_.items()},
        }
        return {**spec, "format": FORMAT, "sklearn_version": sklearn.__version__,
                "fitted_on": self.fitted_on_, "sha256": _digest(body), **body}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LearnedCorrectness:
        sig = cls(d.get("fit_models"), d.get("consult"), d.get("C", 1.0),
                  int(d.get("features", {}).get("max_features", 4000)))
        if "models" not in d:
            return sig  # an unfitted spec: fitted by the cascade that uses it
        if d.get("format") != FORMAT:
            raise InputError(f"Learned signal in unknown format {d.get('format')!r}; "
                             f"this release reads {FORMAT!r}")
        body = {"features": d["features"], "models": d["models"]}
        if d.get("sha256") and d["sha256"] != _digest(body):
            raise InputError("The learned signal's numbers do not match its sha256: the policy "
                             "file was edited or damaged; fit it again")
        sig.features_ = ItemFeatures.from_dict(d["features"])
        sig.weights_ = {m: (np.asarray(v["coef"], dtype=float), float(v["intercept"]))
                        for m, v in d["models"].items()}
        sig.train_rate_ = {m: v.get("train_rate") for m, v in d["models"].items()}
        sig.fitted_on_ = dict(d.get("fitted_on") or {})
        return sig

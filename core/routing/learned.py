"""Learned routing: scikit-learn predicts, per item, the probability that each model is right.

Two users of the same model:

* :class:`LearnedCorrectness`, a cascade **signal** (``core.routing.signals.base`` interface): the learned
  probability that the step's model answered correctly, from the item's text, task and metadata
  (and, optionally, whether a few other models gave the same answer);
* :class:`LearnedRouter`, a **policy**: before any call, send each item to the cheapest model whose
  predicted probability of being right reaches a threshold (the most likely model when none does).

Both work on RouterBench-style sets (text only, no labels, no confidence; scores pre-computed)
and on richer sets (task, numeric and categorical metadata).

>>> sig = LearnedCorrectness().fit(train)                            # doctest: +SKIP
>>> sig.scores(test, "small")[:3]                                    # doctest: +SKIP
array([0.91, 0.34, 0.77])
>>> router = LearnedRouter(["small", "big"], threshold=0.8).fit(train)  # doctest: +SKIP
>>> router.evaluate(test).quality, router.evaluate(test).cost_per_item  # doctest: +SKIP
(0.93, 0.0011)

**Saving.** ``to_dict()`` is plain JSON, never a pickle (a pickle in a downloaded policy file would
run code when loaded): the TF-IDF vocabulary and idf weights, the one-hot categories, the numeric
scalers and, per model, the logistic-regression coefficients and intercept. Predictions are always
computed from those stored numbers (``sigmoid(X @ coef + intercept)``), in memory and after a JSON
round trip alike, so a reloaded policy routes every item exactly as the fitted one did.
``format`` and ``sklearn_version`` fields record how it was made; ``sha256`` covers the numbers
and is checked on load.
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
from core.routing.signals.features import ItemFeatures
from core.routing.policies.base import Outcome, Policy, outcome_from_choice, register_policy
from core.routing.signals.base import Signal, answer_keys, register_signal

FORMAT = "tradeoff-linear-v1"


# ---------------------------------------------------------------------------------------------
# Per-model linear classifiers
# ---------------------------------------------------------------------------------------------
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
    keys = answer_keys(evalset)
    own = keys[:, evalset.model_index(model)]
    has = ~pd.isna(own)
    cols = [((keys[:, evalset.model_index(o)] == own) & has).astype(float) for o in others]
    if not cols:
        return sp.csr_matrix((evalset.n_items, 0))
    block = np.column_stack(cols)
    return sp.csr_matrix(np.column_stack([block, block.mean(axis=1)]))


class LearnedCorrectness(Signal):
    """Learned probability that a model's answer is right (score >= 0.5), per item.

    One logistic regression per model over :class:`ItemFeatures`; with ``consult=[...]`` it also
    sees which of those models gave the same answer (they are then called, and paid for, at the
    step: :meth:`consulted`). Rows where a model has no score are left out of its training.

    >>> sig = LearnedCorrectness(C=2.0).fit(train)                   # doctest: +SKIP
    >>> sig.scores(test, "small").round(2)[:3]                       # doctest: +SKIP
    array([0.93, 0.12, 0.71])
    """

    kind = "learned"
    needs_fit = True

    def __init__(self, models: list[str] | tuple[str, ...] | None = None,
                 consult: list[str] | tuple[str, ...] | None = None, C: float = 1.0,
                 max_features: int = 4000, features: ItemFeatures | None = None):
        self.fit_models = tuple(models) if models else None
        self.consult = tuple(consult or ())
        self.C = float(C)
        # Several signals may share one ItemFeatures, fitted once by the caller (text features
        # are unsupervised, so fitting them on more rows than the labels leaks nothing).
        self.features = features or ItemFeatures(max_features)
        self._own_features = features is None
        self.weights: dict[str, tuple[np.ndarray, float]] = {}
        self.train_rate: dict[str, float] = {}
        self.fitted_on: dict[str, Any] = {}

    # -- Signal interface ----------------------------------------------------------------------
    def fit(self, evalset: EvalSet) -> "LearnedCorrectness":
        models = self.fit_models or evalset.models
        for m in models:
            evalset.model_index(m)  # unknown model -> InputError naming it
        if evalset.n_items < 2:
            raise InputError(f"{evalset.name}: the learned signal needs at least 2 scored items")
        if self._own_features or self.features.fitted_on is None:
            self.features.fit(evalset)
        X = self.features.transform(evalset)
        self.weights, self.train_rate = {}, {}
        for m in models:
            j = evalset.model_index(m)
            y_all = evalset.score[:, j]
            rows = np.flatnonzero(~np.isnan(y_all))
            Xm = self._with_agreement(evalset, m, X)
            y = (y_all[rows] >= 0.5).astype(int)
            self.weights[m] = _fit_linear(Xm[rows], y, self.C)
            self.train_rate[m] = float(y.mean()) if len(y) else float("nan")
        self.fitted_on = {"evalset": evalset.name, "items": evalset.n_items}
        return self

    def scores(self, evalset: EvalSet, model: str) -> np.ndarray:
        return self._predict(evalset, model, self.features.transform(evalset))

    def consulted(self, evalset: EvalSet, model: str) -> list[str]:
        return [m for m in self.consult if m != model]

    def label(self) -> str:
        extra = f" + agreement of {', '.join(self.consult)}" if self.consult else ""
        return "learned P(correct) from text and metadata" + extra

    # -- batch prediction ----------------------------------------------------------------------
    def probabilities(self, evalset: EvalSet, models: list[str] | tuple[str, ...]) -> np.ndarray:
        """P(correct) [n_items, len(models)], features computed once."""
        X = self.features.transform(evalset)
        return np.column_stack([self._predict(evalset, m, X) for m in models]) if models else \
            np.zeros((evalset.n_items, 0))

    def _predict(self, evalset: EvalSet, model: str, X: sp.csr_matrix) -> np.ndarray:
        if model not in self.weights:
            if not self.weights:
                raise InputError("The learned signal is not fitted yet: fit it on a labeled eval set")
            raise InputError(f"The learned signal was not trained for model '{model}'; it knows "
                             f"{', '.join(self.weights)}")
        coef, intercept = self.weights[model]
        Xm = self._with_agreement(evalset, model, X)
        return _sigmoid(np.asarray(Xm @ coef).ravel() + intercept)

    def _with_agreement(self, evalset: EvalSet, model: str, X: sp.csr_matrix) -> sp.csr_matrix:
        others = self.consulted(evalset, model)
        if not others:
            return X
        return sp.hstack([X, _agreement_block(evalset, model, others)], format="csr")

    def restricted(self, models) -> "LearnedCorrectness":
        """The same fitted signal keeping only ``models``' weights (a smaller saved policy)."""
        sig = LearnedCorrectness(tuple(models), self.consult, self.C, features=self.features)
        sig.weights = {m: self.weights[m] for m in models if m in self.weights}
        sig.train_rate = {m: self.train_rate[m] for m in models if m in self.train_rate}
        sig.fitted_on = dict(self.fitted_on)
        return sig

    # -- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        body = {
            "features": self.features.to_dict(),
            "models": {m: {"coef": [float(x) for x in c], "intercept": float(b),
                           "train_rate": self.train_rate.get(m)}
                       for m, (c, b) in self.weights.items()},
        }
        return {"kind": self.kind, "format": FORMAT, "sklearn_version": sklearn.__version__,
                "C": self.C, "consult": list(self.consult),
                "fit_models": list(self.fit_models) if self.fit_models else None,
                "fitted_on": self.fitted_on, "sha256": _digest(body), **body}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LearnedCorrectness":
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
        sig.features = ItemFeatures.from_dict(d["features"])
        sig.weights = {m: (np.asarray(v["coef"], dtype=float), float(v["intercept"]))
                       for m, v in d["models"].items()}
        sig.train_rate = {m: v.get("train_rate") for m, v in d["models"].items()}
        sig.fitted_on = dict(d.get("fitted_on") or {})
        return sig


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


register_signal("learned", LearnedCorrectness.from_dict)


# ---------------------------------------------------------------------------------------------
# The learned router policy
# ---------------------------------------------------------------------------------------------
@register_policy
class LearnedRouter(Policy):
    """Send each item to the cheapest model predicted right with probability >= ``threshold``.

    Models are ordered by their mean cost on the training set; an item no model clears goes to
    the model most likely to be right. Exactly one model is called per item.

    >>> r = LearnedRouter(["small", "big"], threshold=0.7).fit(train)  # doctest: +SKIP
    >>> r.evaluate(test).calls()                                       # doctest: +SKIP
    {'big': 31, 'small': 69}
    """

    kind = "learned_router"

    def __init__(self, models: list[str] | tuple[str, ...], threshold: float = 0.5,
                 C: float = 1.0, signal: LearnedCorrectness | None = None,
                 cost_order: list[str] | None = None):
        if not models:
            raise InputError("A learned router needs at least one model")
        self._models = tuple(models)
        self.threshold = float(threshold)
        self.signal = signal or LearnedCorrectness(self._models, C=C)
        self.cost_order = tuple(cost_order) if cost_order else None

    @property
    def models(self) -> tuple[str, ...]:
        return self._models

    def fit(self, evalset: EvalSet) -> "LearnedRouter":
        self.signal = LearnedCorrectness(self._models, C=self.signal.C,
                                         max_features=self.signal.features.max_features).fit(evalset)
        mean_cost = {m: np.nanmean(evalset.cost[:, evalset.model_index(m)])
                     if not np.isnan(evalset.cost[:, evalset.model_index(m)]).all() else np.inf
                     for m in self._models}
        self.cost_order = tuple(sorted(self._models, key=lambda m: (mean_cost[m], m)))
        return self

    def probabilities(self, evalset: EvalSet) -> np.ndarray:
        """P(correct) [n, k] with columns in cost order (cheapest first)."""
        if self.cost_order is None:
            raise InputError("The learned router is not fitted yet: fit it on a labeled eval set")
        for m in self.cost_order:
            evalset.model_index(m)
        return self.signal.probabilities(evalset, self.cost_order)

    def choose(self, evalset: EvalSet, probabilities: np.ndarray | None = None,
               threshold: float | None = None) -> np.ndarray:
        """Index into ``cost_order`` of the model each item goes to."""
        P = self.probabilities(evalset) if probabilities is None else probabilities
        t = self.threshold if threshold is None else threshold
        ok = P >= t
        first_ok = np.argmax(ok, axis=1)
        best = np.argmax(P, axis=1)
        return np.where(ok.any(axis=1), first_ok, best)

    def evaluate(self, evalset: EvalSet) -> Outcome:
        pick = self.choose(evalset)
        cols = np.array([evalset.model_index(m) for m in self.cost_order], dtype=np.int64)
        kept = cols[pick]
        tried = np.zeros((evalset.n_items, evalset.n_models), dtype=bool)
        tried[np.arange(evalset.n_items), kept] = True
        return outcome_from_choice(evalset, tried, kept)

    def to_dict(self) -> dict[str, Any]:
        if self.cost_order is None:
            return {"kind": self.kind, "models": list(self._models), "threshold": self.threshold,
                    "C": self.signal.C}
        return {"kind": self.kind, "models": list(self._models), "threshold": self.threshold,
                "cost_order": list(self.cost_order), "signal": self.signal.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LearnedRouter":
        sig = LearnedCorrectness.from_dict(d["signal"]) if d.get("signal") else None
        return cls(d["models"], d.get("threshold", 0.5), C=d.get("C", 1.0), signal=sig,
                   cost_order=d.get("cost_order"))

    def __repr__(self) -> str:
        return f"LearnedRouter({list(self._models)}, threshold={self.threshold:.3f})"

"""The learned router: before any call, send each item to the cheapest model predicted right.

It shares its per-model P(correct) with the learned cascade signal
(:class:`~core.routing.signals.learned.LearnedCorrectness`), so it needs scikit-learn, which
takes seconds to import: the policy registry imports this module only when a learned router
is built or read.

>>> import pandas as pd
>>> items = pd.DataFrame({"item_id": list("1234"), "input": ["easy a", "hard b", "easy c", "hard d"]})
>>> es = EvalSet.from_arrays("t", ["small", "big"], score=[[1, 1], [0, 1], [1, 1], [0, 1]],
...                          cost=[[1, 10]] * 4, items=items)
>>> router = LearnedRouter(["small", "big"], threshold=0.5, C=10.0).fit(es)
>>> router.evaluate(es).calls()
{'small': 2, 'big': 2}
"""
from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.policies.base import Outcome, Policy, outcome_from_choice
from core.routing.signals.learned import LearnedCorrectness


class LearnedRouter(Policy):
    """Send each item to the cheapest model predicted right with probability >= ``threshold``.

    Models are ordered by their mean cost on the training set (``cost_order_``); an item no
    model clears goes to the model most likely to be right. Exactly one model is called per
    item. ``signal`` optionally gives a (possibly already fitted) learned signal to use.
    """

    kind = "learned_router"

    def __init__(self, models: list[str] | tuple[str, ...], threshold: float = 0.5,
                 C: float = 1.0, signal: LearnedCorrectness | None = None):
        if not models:
            raise InputError("A learned router needs at least one model")
        self.models = tuple(models)
        self.threshold = float(threshold)
        self.C = float(C)
        self.signal = signal

    def fit(self, evalset: EvalSet) -> LearnedRouter:
        features = self.signal.features if self.signal is not None else None
        max_features = self.signal.max_features if self.signal is not None else 4000
        self.signal_ = LearnedCorrectness(self.models, C=self.C, max_features=max_features,
                                          features=features).fit(evalset)
        self.cost_order_ = tuple(m for m in evalset.cost_order if m in self.models)
        return self

    @property
    def is_fitted(self) -> bool:
        return getattr(self, "cost_order_", None) is not None

    def probabilities(self, evalset: EvalSet) -> np.ndarray:
        """P(correct) [n, k] with columns in cost order (cheapest first)."""
        self.check_fitted()
        for m in self.cost_order_:
            evalset.model_index(m)
        return self.signal_.probabilities(evalset, self.cost_order_)

    def choose(self, evalset: EvalSet, probabilities: np.ndarray | None = None,
               threshold: float | None = None) -> np.ndarray:
        """Index into ``cost_order_`` of the model each item goes to."""
        P = self.probabilities(evalset) if probabilities is None else probabilities
        t = self.threshold if threshold is None else threshold
        ok = t <= P
        first_ok = np.argmax(ok, axis=1)
        best = np.argmax(P, axis=1)
        return np.where(ok.any(axis=1), first_ok, best)

    def evaluate(self, evalset: EvalSet) -> Outcome:
        pick = self.choose(evalset)
        cols = np.array([evalset.model_index(m) for m in self.cost_order_], dtype=np.int64)
        kept = cols[pick]
        tried = np.zeros((evalset.n_items, evalset.n_models), dtype=bool)
        tried[np.arange(evalset.n_items), kept] = True
        return outcome_from_choice(evalset, tried, kept)

    def models_called(self) -> tuple[str, ...]:
        return self.models

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "models": list(self.models), "threshold": self.threshold,
               "C": self.C}
        if self.is_fitted:
            out.update(cost_order=list(self.cost_order_), signal=self.signal_.to_dict())
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LearnedRouter:
        router = cls(d["models"], d.get("threshold", 0.5), C=d.get("C", 1.0))
        if d.get("signal") and d.get("cost_order"):
            signal = LearnedCorrectness.from_dict(d["signal"])
            if signal.is_fitted:
                router.signal_ = signal
                router.cost_order_ = tuple(d["cost_order"])
        return router

    def __repr__(self) -> str:
        return f"LearnedRouter({list(self.models)}, threshold={self.threshold:.3f})"

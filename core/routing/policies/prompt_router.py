"""The prompt router: before any call, send an item to the cheap or the strong model.

It ranks items by the quality the cheap model is expected to lose per dollar it saves::

    z = (P(cheap right) - P(strong right)) / max(c_strong - c_cheap, 1e-12)

and keeps the cheap model where ``z >= threshold``. P(right) comes from the prompt alone
(:class:`~core.routing.signals.prompt_correctness.PromptCorrectness`); ``c`` is each model's
predicted cost of the item, a least-squares line on the prompt's length (the real cost is
unknown before the call; the prompt's length is not). Escalating the items where the strong
model buys the most quality per dollar is the knapsack order: on MMLU it saved 61-67% of GPT-4's
cost at 95% of its quality where ranking by P(cheap right) alone saved 40-44%.

``threshold`` is chosen on out-of-fold z (each training row scored by learners fitted without
it; :mod:`core.routing.optimize`), never on the learners' own training rows.

>>> import pandas as pd
>>> items = pd.DataFrame({"item_id": [str(i) for i in range(40)],
...                       "input": ["easy question %d" % i if i % 2 else "a long hard proof of theorem %d" % i
...                                 for i in range(40)]})
>>> es = EvalSet.from_arrays("t", ["small", "big"], score=[[i % 2, 1] for i in range(40)],
...                          cost=[[0.001, 0.01]] * 40, items=items)
>>> router = PromptRouter(["small", "big"], threshold=-50.0,
...                       signal=PromptCorrectness(members=(("tfidf", "lr"),))).fit(es)
>>> router.evaluate(es).calls()
{'small': 20, 'big': 20}
"""
from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.policies.base import Outcome, Policy
from core.routing.policies.common import check_models
from core.routing.policies.task_router import one_call_outcome
from core.routing.signals.prompt_correctness import PromptCorrectness
from core.routing.signals.prompt_features import prompt_texts

MIN_GAP_USD = 1e-12


def cost_line(cost: np.ndarray, lengths: np.ndarray) -> tuple[float, float, float]:
    """``(intercept, slope, floor)``: least-squares cost on prompt length (characters), floored
    at the cheapest cost seen (NaN costs left out; no cost known: zeros)."""
    ok = ~np.isnan(cost)
    if not ok.any():
        return 0.0, 0.0, 0.0
    A = np.column_stack([np.ones(ok.sum()), lengths[ok].astype(float)])
    coef, *_ = np.linalg.lstsq(A, cost[ok], rcond=None)
    return float(coef[0]), float(coef[1]), float(np.min(cost[ok]))


def predicted_cost(line, lengths: np.ndarray) -> np.ndarray:
    intercept, slope, floor = line
    return np.maximum(intercept + slope * np.asarray(lengths, dtype=float), floor)


class PromptRouter(Policy):
    """Cheap model where ``z >= threshold`` (module docstring), else the strong model.

    Parameters: ``models`` (cheap, strong), ``threshold``, ``signal`` (a PromptCorrectness, or
    its dict; fitted here when it is not yet). Fitted: ``signal_``, ``cost_lines_`` (model ->
    (intercept, slope, floor)).
    """

    kind = "prompt_router"

    def __init__(self, models, threshold: float = 0.0, signal=None):
        self.models = check_models(models, 2, "prompt router")
        if len(self.models) != 2:
            raise InputError(f"A prompt router chooses between 2 models (cheap, strong); got "
                             f"{len(self.models)}")
        self.threshold = float(threshold)
        if np.isnan(self.threshold):
            raise InputError("A prompt router's threshold must be a number, not NaN")
        self.signal = PromptCorrectness.from_dict(signal) if isinstance(signal, dict) else signal

    def fit(self, evalset: EvalSet) -> PromptRouter:
        signal = self.signal if self.signal is not None else PromptCorrectness(self.models)
        self.signal_ = signal if signal.is_fitted else signal.fit(evalset)
        lengths = np.array([len(t) for t in prompt_texts(evalset)])
        self.cost_lines_ = {m: cost_line(evalset.cost[:, evalset.model_index(m)], lengths)
                            for m in self.models}
        return self

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "cost_lines_")

    def gaps(self, evalset: EvalSet) -> np.ndarray:
        """z per item: P(cheap right) - P(strong right), per dollar the cheap model saves."""
        self.check_fitted()
        P = self.signal_.probabilities(evalset, self.models)
        lengths = np.array([len(t) for t in prompt_texts(evalset)])
        saved = predicted_cost(self.cost_lines_[self.models[1]], lengths) - \
            predicted_cost(self.cost_lines_[self.models[0]], lengths)
        return (P[:, 0] - P[:, 1]) / np.maximum(saved, MIN_GAP_USD)

    def evaluate(self, evalset: EvalSet) -> Outcome:
        keep = self.gaps(evalset) >= self.threshold
        cols = np.array([evalset.model_index(m) for m in self.models])
        return one_call_outcome(evalset, np.where(keep, cols[0], cols[1]))

    def models_called(self) -> tuple[str, ...]:
        return self.models

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "models": list(self.models), "threshold": self.threshold}
        if self.is_fitted:
            out["signal"] = self.signal_.restricted(self.models).to_dict()
            out["cost_lines"] = {m: list(v) for m, v in self.cost_lines_.items()}
        elif self.signal is not None:
            out["signal"] = self.signal.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PromptRouter:
        router = cls(d["models"], d.get("threshold", 0.0), d.get("signal"))
        if d.get("cost_lines") and router.signal is not None and router.signal.is_fitted:
            router.signal_ = router.signal
            router.cost_lines_ = {m: tuple(float(x) for x in v) for m, v in d["cost_lines"].items()}
        return router

    def __repr__(self) -> str:
        return f"PromptRouter({list(self.models)}, threshold={self.threshold:.4g})"

"""Agreement: how many cheap peers gave the same answer as the step's model."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.answers import CONCLUSION_KINDS
from core.evaluation.evalset import EvalSet
from core.routing.signals.base import Signal


class Agreement(Signal):
    """Share of the other ``models`` that gave the same answer as the step's model.

    The ensemble pattern: when two or three cheap models agree, accept; when they disagree,
    escalate. Every model in ``models`` is called (in parallel with the step's model) and paid
    for. Answers are compared by what they conclude (``EvalSet.conclusions``: the chosen option,
    the final number, or the normalised text, ``compare`` says which; None: detected from the eval
    set), so "The answer is (B)" agrees with "b.". With ``Agreement(["a", "b", "c"])`` on step
    ``a``: 1.0 when b and c both give a's answer, 0.5 when one does, 0 when none does or when a
    gave no answer.

    >>> es = EvalSet.from_arrays("t", ["a", "b", "c"], score=np.ones((2, 3)),
    ...                          prediction=[["X", "x", "y"], ["y", "z", "w"]])
    >>> Agreement(["a", "b", "c"]).scores(es, "a"), Agreement(["a", "b", "c"]).consulted(es, "a")
    (array([0.5, 0. ]), ['b', 'c'])
    """

    kind = "agreement"

    def __init__(self, models: list[str] | tuple[str, ...], compare: str | None = None):
        self.models = tuple(models)
        if len(self.models) < 2:
            raise InputError("Agreement needs at least 2 models (the step's model and one more)")
        if compare is not None and compare not in CONCLUSION_KINDS:
            raise InputError(f"Agreement compares answers as {', '.join(CONCLUSION_KINDS)}; got {compare!r}")
        self.compare = compare

    def _others(self, model: str) -> list[str]:
        return [m for m in self.models if m != model]

    def scores(self, evalset: EvalSet, model: str) -> np.ndarray:
        keys = evalset.conclusions(self.compare)
        j = evalset.model_index(model)
        others = [evalset.model_index(m) for m in self._others(model)]
        own = keys[:, j]
        if pd.isna(own).all():
            raise InputError(
                f"Model '{model}' has no predictions or outputs in {evalset.name}, so agreement "
                "cannot be measured; use the self-reported or learned signal instead")
        has = ~pd.isna(own)
        votes = np.zeros(evalset.n_items)
        for k in others:  # a handful of columns; each comparison is vectorized over items
            votes += (keys[:, k] == own) & has
        return votes / max(len(others), 1)

    def consulted(self, evalset: EvalSet, model: str) -> list[str]:
        return self._others(model)

    def models_consulted(self) -> tuple[str, ...]:
        return self.models

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "models": list(self.models)}
        if self.compare is not None:
            out["compare"] = self.compare
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Agreement:
        return cls(d.get("models") or [], d.get("compare"))

    def label(self) -> str:
        return "agreement of " + ", ".join(self.models)

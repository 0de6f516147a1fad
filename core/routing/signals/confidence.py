"""The model's own confidence, as it reported it with its answer."""
from __future__ import annotations

import numpy as np

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.signals.base import Signal


class SelfConfidence(Signal):
    """The confidence the model reported with its answer (the eval set's ``confidence`` column).

    Items where the model gave no confidence get 0 (they escalate: an unsure step never keeps
    an answer it cannot vouch for). A model with no confidence at all raises InputError.

    >>> es = EvalSet.from_arrays("t", ["small"], score=[[1.0], [0.0]], confidence=[[0.9], [np.nan]])
    >>> SelfConfidence().scores(es, "small")
    array([0.9, 0. ])
    """

    kind = "confidence"

    def scores(self, evalset: EvalSet, model: str) -> np.ndarray:
        col = evalset.confidence[:, evalset.model_index(model)].astype(float)
        if np.isnan(col).all():
            raise InputError(
                f"Model '{model}' reports no confidence in {evalset.name}; use the agreement "
                "signal (cheaper models voting) or the learned signal instead")
        return np.clip(np.nan_to_num(col, nan=0.0), 0.0, 1.0)

    def label(self) -> str:
        return "self-reported confidence"

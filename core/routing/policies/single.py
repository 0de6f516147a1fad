"""One model answers everything: the baseline every router is compared with."""
from __future__ import annotations

import numpy as np

from core.evaluation.evalset import EvalSet
from core.routing.policies._common import tried_matrix
from core.routing.policies.base import Outcome, Policy, outcome_from_choice, register_policy


@register_policy
class SingleModel(Policy):
    """Always call ``model``.

    >>> SingleModel("big").evaluate(es).quality                     # doctest: +SKIP
    0.9
    """

    kind = "single"

    def __init__(self, model: str):
        self.model = str(model)

    def evaluate(self, evalset: EvalSet) -> Outcome:
        j = evalset.model_index(self.model)
        n = evalset.n_items
        return outcome_from_choice(evalset, tried_matrix(n, evalset.n_models, [j]),
                                   np.full(n, j, dtype=np.int64))

    @property
    def models(self) -> tuple[str, ...]:
        return (self.model,)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "model": self.model}

    @classmethod
    def from_dict(cls, d: dict) -> "SingleModel":
        return cls(d["model"])

    def __repr__(self) -> str:
        return f"SingleModel({self.model!r})"

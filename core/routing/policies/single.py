"""One model answers everything: the baseline every router is compared with."""
from __future__ import annotations

import numpy as np

from core.evaluation.evalset import EvalSet
from core.routing.policies.base import Outcome, Policy, outcome_from_choice
from core.routing.policies.common import tried_matrix


class SingleModel(Policy):
    """Always call ``model``.

    >>> SingleModel("big").evaluate(es).quality
    0.75
    """

    kind = "single"

    def __init__(self, model: str):
        self.model = str(model)

    def evaluate(self, evalset: EvalSet) -> Outcome:
        j = evalset.model_index(self.model)
        n = evalset.n_items
        return outcome_from_choice(evalset, tried_matrix(n, evalset.n_models, [j]),
                                   np.full(n, j, dtype=np.int64))

    def models_called(self) -> tuple[str, ...]:
        return (self.model,)

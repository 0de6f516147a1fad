"""The oracle: per item, the cheapest model that reaches the item's best score.

It knows the answer key, so no real router reaches it; it marks the limit on the frontier.
With 0/1 scores that is the cheapest correct model, or the cheapest model when none is right.

>>> out = Oracle().evaluate(es)
>>> out.quality, out.cost_per_item
(1.0, 0.004)
"""
from __future__ import annotations

import numpy as np

from core.evaluation.evalset import EvalSet
from core.routing.policies.base import Outcome, Policy
from core.routing.policies.common import check_models, model_columns
from core.routing.policies.task_router import one_call_outcome


class Oracle(Policy):
    kind = "oracle"

    def __init__(self, models=None):
        self.models = None if models is None else check_models(models, 1, "oracle")

    def choose(self, evalset: EvalSet) -> np.ndarray:
        """Eval-set column kept per item."""
        cols = (np.arange(evalset.n_models) if self.models is None
                else model_columns(evalset, self.models))
        # One contiguous row per model: the loops below run over a handful of models, each step
        # vectorized over items.
        score = np.ascontiguousarray(evalset.score[:, cols].T)
        cost = np.ascontiguousarray(evalset.cost[:, cols].T)
        best = score[0].copy()
        for row in score[1:]:
            np.fmax(best, row, out=best)  # NaN only where nothing is scored
        nothing_scored = np.isnan(best)
        n = evalset.n_items
        pick = np.full(n, -1, dtype=np.int64)
        pick_cost = np.full(n, np.inf)
        first_eligible = np.full(n, -1, dtype=np.int64)
        # Among the models reaching the best score (every model where nothing is scored), the
        # cheapest; ties go to the earlier model.
        for j in range(len(cols)):
            eligible = (score[j] == best) | nothing_scored
            first_eligible[(first_eligible < 0) & eligible] = j
            better = eligible & (cost[j] < pick_cost)  # NaN cost is never "cheaper"
            pick[better] = j
            pick_cost[better] = cost[j][better]
        unpriced = pick < 0
        pick[unpriced] = first_eligible[unpriced]
        return cols[pick]

    def evaluate(self, evalset: EvalSet) -> Outcome:
        return one_call_outcome(evalset, self.choose(evalset))

    def models_called(self) -> tuple[str, ...]:
        """Every model it names (``models=None``: every model of the eval set, so none here)."""
        return self.models or ()

    def to_dict(self) -> dict:
        return {"kind": self.kind, "models": None if self.models is None else list(self.models)}

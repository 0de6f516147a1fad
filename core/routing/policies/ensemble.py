"""Majority ensemble: call every model in parallel, keep the answer most of them gave.

Ties go to the answer of the earliest model in ``models`` (list the trusted one first). Cost is
the sum of every call; latency the slowest call. Answers are compared by what they conclude
(the prediction, else the output text, read by ``EvalSet.conclusions``: "The answer is (B)"
votes with "b.").

>>> MajorityEnsemble(["small", "mid", "big"]).evaluate(es).cost_per_item   # .001 + .004 + .010
0.015
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.evaluation.evalset import EvalSet
from core.routing.policies.base import Outcome, Policy, outcome_from_choice
from core.routing.policies.common import check_models, model_columns, tried_matrix


class MajorityEnsemble(Policy):
    kind = "majority"

    def __init__(self, models):
        self.models = check_models(models, 2, "majority ensemble")

    def evaluate(self, evalset: EvalSet) -> Outcome:
        cols = model_columns(evalset, self.models)
        keys = evalset.conclusions()[:, cols]
        has = ~pd.isna(keys)
        # votes[i, j]: members giving member j's answer on item i (a handful of members: the
        # double loop is over models, each step vectorized over items).
        votes = np.zeros(keys.shape, dtype=np.int64)
        for a in range(len(cols)):
            for b in range(len(cols)):
                votes[:, a] += (keys[:, a] == keys[:, b]) & has[:, a] & has[:, b]
        kept = cols[np.argmax(votes, axis=1)]
        return outcome_from_choice(evalset, tried_matrix(evalset.n_items, evalset.n_models, cols),
                                   kept, sequential=False)

    def models_called(self) -> tuple[str, ...]:
        return self.models

    def to_dict(self) -> dict:
        return {"kind": self.kind, "models": list(self.models)}

"""Fallback chain: call the next model only when the previous one failed.

A call failed when it left no result: its score is missing (NaN) or, where the eval set has
outputs for that model, its output is missing. A failed call is billed what the eval set says
(nothing when its cost is unknown: providers do not charge errors) and its latency is waited.

>>> es2 = EvalSet.from_arrays("t", ["primary", "backup"], score=[[1, 1], [np.nan, 1], [0, 1]])
>>> FallbackChain(["primary", "backup"]).evaluate(es2).calls()      # primary failed once
{'primary': 3, 'backup': 1}
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.evaluation.evalset import EvalSet
from core.routing.policies.base import Outcome, Policy
from core.routing.policies.common import check_models, model_columns


def failed_calls(evalset: EvalSet, cols: np.ndarray) -> np.ndarray:
    """bool [n, len(cols)]: the call left no result."""
    failed = np.isnan(evalset.score[:, cols])
    outputs = evalset.output[:, cols]
    no_output = pd.isna(outputs)
    has_outputs = ~no_output.all(axis=0)  # models whose outputs the file carries at all
    return failed | (no_output & has_outputs[None, :])


class FallbackChain(Policy):
    kind = "fallback"

    def __init__(self, models):
        self.models = check_models(models, 1, "fallback chain")

    def evaluate(self, evalset: EvalSet) -> Outcome:
        cols = model_columns(evalset, self.models)
        n, k = evalset.n_items, len(cols)
        ok = ~failed_calls(evalset, cols)
        ok[:, -1] = True  # the chain ends at the last model, whatever it returned
        stop = np.argmax(ok, axis=1)
        reached = np.arange(k)[None, :] <= stop[:, None]
        cost = evalset.cost[:, cols]
        cost = np.where(ok, cost, np.nan_to_num(cost))  # an unknown failed call costs nothing
        lat = evalset.latency_ms[:, cols]
        lat = np.where(ok, lat, np.nan_to_num(lat))
        rows = np.arange(n)
        tried = np.zeros((n, evalset.n_models), dtype=bool)
        tried[:, cols] = reached
        kept = cols[stop]
        return Outcome(evalset.models, tried, kept,
                       np.where(reached, cost, 0.0).sum(axis=1),
                       np.where(reached, lat, 0.0).sum(axis=1),
                       evalset.score[rows, kept], escalated=stop > 0)

    def models_called(self) -> tuple[str, ...]:
        return self.models

    def to_dict(self) -> dict:
        return {"kind": self.kind, "models": list(self.models)}

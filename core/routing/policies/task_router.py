"""Task routing table: each task goes to one model; unlisted tasks go to the default.

>>> TaskRouter({"billing": "small", "legal": "big"}, default="mid").evaluate(es).calls()
{'big': 2, 'mid': 0, 'small': 2}
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.policies.base import Outcome, Policy, outcome_from_choice


def route_by_task(evalset: EvalSet, table: dict[str, str], default: str) -> np.ndarray:
    """Eval-set column per item from a task -> model table (vectorized through pandas)."""
    col_of = {m: evalset.model_index(m) for m in set(table.values()) | {default}}
    mapped = pd.Series(evalset.tasks).map({t: col_of[m] for t, m in table.items()})
    return mapped.fillna(col_of[default]).to_numpy(dtype=np.int64)


def best_table(evalset: EvalSet, tolerance: float = 0.01) -> tuple[dict[str, str], str]:
    """A starting table that costs no quality to speak of: per task, the cheapest model within
    ``tolerance`` of that task's best quality (in-sample); the default likewise over every item.

    >>> best_table(es)
    ({'billing': 'mid', 'legal': 'small'}, 'big')
    """
    stats = pd.DataFrame({"task": np.repeat(evalset.tasks.astype(str), evalset.n_models),
                          "model": np.tile(np.array(evalset.models, dtype=object), evalset.n_items),
                          "score": evalset.score.ravel(), "cost": evalset.cost.ravel()})

    def pick(frame: pd.DataFrame) -> str:
        q = frame.groupby("model", sort=False)["score"].mean()
        c = frame.groupby("model", sort=False)["cost"].mean().fillna(np.inf)
        near = q[q >= q.max() - tolerance - 1e-12].index
        return str(c.loc[near].sort_values(kind="stable").index[0])

    table = {str(t): pick(part) for t, part in stats.groupby("task", sort=True)}
    return table, pick(stats)


def one_call_outcome(evalset: EvalSet, kept: np.ndarray) -> Outcome:
    """Outcome of a router that calls exactly one model per item."""
    tried = np.zeros((evalset.n_items, evalset.n_models), dtype=bool)
    tried[np.arange(evalset.n_items), kept] = True
    return outcome_from_choice(evalset, tried, kept)


class TaskRouter(Policy):
    """``table`` maps task name -> model; items of other tasks (or none) go to ``default``."""

    kind = "task_router"

    def __init__(self, table: dict[str, str], default: str):
        self.table = {str(t): str(m) for t, m in dict(table).items() if m is not None and str(m)}
        if not default:
            raise InputError("A task routing table needs a default model")
        self.default = str(default)

    def evaluate(self, evalset: EvalSet) -> Outcome:
        return one_call_outcome(evalset, route_by_task(evalset, self.table, self.default))

    def models_called(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.table.values(), self.default]))

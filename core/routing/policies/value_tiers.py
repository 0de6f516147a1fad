"""Value tiers: the more an item is worth, the stronger the model (lead-value routing).

``tiers`` is a list of ``(min_value, model)``: an item goes to the model of the highest tier
whose ``min_value`` it reaches; items below every tier, or without a value, go to the lowest
tier. Per task: a dict ``{task: tiers}`` with ``"*"`` for tasks not listed.

>>> ValueTiers([(0, "small"), (1000, "big")]).evaluate(es).calls()  # one lead worth >= $1000
{'big': 1, 'mid': 0, 'small': 3}
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.policies.base import Outcome, Policy
from core.routing.policies.task_router import one_call_outcome

ANY_TASK = "*"


def _clean_tiers(tiers, where: str) -> list[tuple[float, str]]:
    try:
        clean = sorted(((float(v), str(m)) for v, m in tiers), key=lambda t: t[0])
    except (TypeError, ValueError):
        raise InputError(f"Value tiers for {where} must be (min_value, model) pairs; got {tiers!r}") from None
    if not clean:
        raise InputError(f"Value tiers for {where} are empty: give at least one (min_value, model)")
    if any(np.isnan(v) for v, _ in clean):
        raise InputError(f"Value tiers for {where}: min_value must be a number")
    return clean


class ValueTiers(Policy):
    kind = "value_tiers"

    def __init__(self, tiers, value_column: str = "value_usd"):
        if isinstance(tiers, dict):
            self.tiers = {str(t): _clean_tiers(v, f"task '{t}'") for t, v in tiers.items()}
        else:
            self.tiers = {ANY_TASK: _clean_tiers(tiers, "all tasks")}
        self.value_column = value_column

    def item_values(self, evalset: EvalSet) -> np.ndarray:
        if self.value_column not in evalset.items:
            raise InputError(f"{evalset.name} has no '{self.value_column}' column: value tiers need "
                             "a value per item (e.g. a value_usd metadata column)")
        return pd.to_numeric(evalset.items[self.value_column], errors="coerce").to_numpy(dtype=float)

    def evaluate(self, evalset: EvalSet) -> Outcome:
        values = self.item_values(evalset)
        tasks = evalset.tasks
        kept = np.full(evalset.n_items, -1, dtype=np.int64)
        listed = np.isin(tasks, [t for t in self.tiers if t != ANY_TASK])
        for task, tiers in self.tiers.items():
            rows = ~listed if task == ANY_TASK else (tasks == task)
            if not rows.any():
                continue
            mins = np.array([v for v, _ in tiers])
            cols = np.array([evalset.model_index(m) for _, m in tiers])
            v = values[rows]
            tier = np.searchsorted(mins, np.nan_to_num(v, nan=-np.inf), side="right") - 1
            kept[rows] = cols[np.clip(tier, 0, None)]
        if (kept < 0).any():
            missing = sorted(set(tasks[kept < 0]))
            raise InputError("Value tiers cover no rule for task(s) "
                             f"{', '.join(map(str, missing[:5]))}: add tiers for them or a '*' rule")
        return one_call_outcome(evalset, kept)

    def models_called(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m for tiers in self.tiers.values() for _, m in tiers))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "value_column": self.value_column,
                "tiers": {t: [[v, m] for v, m in tiers] for t, tiers in self.tiers.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> ValueTiers:
        tiers = d["tiers"]
        if isinstance(tiers, dict) and list(tiers) == [ANY_TASK]:
            tiers = tiers[ANY_TASK]
        return cls(tiers, d.get("value_column", "value_usd"))

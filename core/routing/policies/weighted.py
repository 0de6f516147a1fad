"""Weighted multi-criteria selection: per task, the model with the best weighted utility.

Utility of model m on task t (each criterion scaled to 0..1 among the candidate models)::

    w_quality  * quality(m)                       # overall mean score of m
  + w_task_fit * quality(m, t) / best quality(., t)
  + w_cost     * cheapness(m, t)                  # 1 = cheapest, 0 = dearest (log scale)
  + w_latency  * speed(m, t)                      # 1 = fastest, 0 = slowest (log scale)

Models breaking a hard limit on task t (``max_cost`` USD per item, ``max_latency_ms``,
``min_quality``) are not candidates there. Where no model meets the limits, the best utility is
taken anyway and the task is listed in ``unmet_``. The estimates come from ``fit(evalset)``
(per-task means of score, cost and latency), so the choice is a task -> model table.

>>> WeightedSelection({"task_fit": 1, "cost": 0.1}).fit(es).table_
{'billing': 'mid', 'legal': 'small'}
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.policies.base import Outcome, Policy
from core.routing.policies.common import check_models, model_columns
from core.routing.policies.task_router import one_call_outcome, route_by_task

CRITERIA = ("quality", "task_fit", "cost", "latency")


def _scaled_log(values: np.ndarray) -> np.ndarray:
    """1 for the smallest value of each row, 0 for the largest, log scale; NaN -> 0."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no latency known
        v = np.log10(np.clip(values, 1e-12, None))
        lo, hi = np.nanmin(v, axis=1, keepdims=True), np.nanmax(v, axis=1, keepdims=True)
        span = np.where(hi > lo, hi - lo, 1.0)
        out = np.where(hi > lo, (hi - v) / span, 1.0)
    return np.nan_to_num(out, nan=0.0)


class WeightedSelection(Policy):
    kind = "weighted"

    def __init__(self, weights: dict[str, float] | None = None, max_cost: float | None = None,
                 max_latency_ms: float | None = None, min_quality: float | None = None,
                 models=None):
        weights = dict(weights or {"quality": 1.0, "cost": 1.0})
        unknown = set(weights) - set(CRITERIA)
        if unknown:
            raise InputError(f"Unknown weight(s) {', '.join(sorted(unknown))}: use {', '.join(CRITERIA)}")
        if any(float(w) < 0 for w in weights.values()) or not any(float(w) > 0 for w in weights.values()):
            raise InputError("Weights must be non-negative with at least one above zero")
        self.weights = {c: float(weights.get(c, 0.0)) for c in CRITERIA}
        self.max_cost, self.max_latency_ms, self.min_quality = max_cost, max_latency_ms, min_quality
        self.models = None if models is None else check_models(models, 1, "weighted selection")

    def fit(self, evalset: EvalSet) -> WeightedSelection:
        models = self.models or evalset.models
        cols = model_columns(evalset, models)
        tasks = pd.Series(evalset.tasks, name="task")

        def per_task(arr):  # [n_tasks, n_models] means, NaN ignored
            return pd.DataFrame(arr[:, cols], columns=models).groupby(tasks).mean()

        quality_t = per_task(evalset.score)
        cost_t, latency_t = per_task(evalset.cost), per_task(evalset.latency_ms)
        overall = np.nanmean(np.where(np.isnan(evalset.score[:, cols]), np.nan, evalset.score[:, cols]), axis=0)
        q = quality_t.to_numpy()
        with np.errstate(all="ignore"):
            best = np.nanmax(q, axis=1, keepdims=True)
            fit = np.nan_to_num(np.where(best > 0, q / best, 0.0))
        w = self.weights
        utility = (w["quality"] * np.nan_to_num(overall)[None, :] + w["task_fit"] * fit
                   + w["cost"] * _scaled_log(cost_t.to_numpy())
                   + w["latency"] * _scaled_log(latency_t.to_numpy()))
        allowed = np.ones_like(utility, dtype=bool)
        if self.max_cost is not None:
            allowed &= cost_t.to_numpy() <= self.max_cost
        if self.max_latency_ms is not None:
            allowed &= latency_t.to_numpy() <= self.max_latency_ms
        if self.min_quality is not None:
            allowed &= q >= self.min_quality
        none_ok = ~allowed.any(axis=1)
        pick = np.argmax(np.where(allowed | none_ok[:, None], utility, -np.inf), axis=1)
        task_names = [str(t) for t in quality_t.index]
        self.table_ = {t: models[p] for t, p in zip(task_names, pick)}
        self.unmet_ = [t for t, bad in zip(task_names, none_ok) if bad]
        counts = tasks.value_counts()
        self.default_ = self.table_[max(task_names, key=lambda t: counts.get(t, 0))]
        self.estimates_ = pd.DataFrame({
            "task": np.repeat(task_names, len(models)), "model": np.tile(models, len(task_names)),
            "quality": q.ravel(), "cost_per_item": cost_t.to_numpy().ravel(),
            "latency_ms": latency_t.to_numpy().ravel(), "utility": utility.ravel(),
            "allowed": allowed.ravel()})
        return self

    @property
    def is_fitted(self) -> bool:
        return getattr(self, "table_", None) is not None

    def evaluate(self, evalset: EvalSet) -> Outcome:
        """Route with the fitted task table (never fitted on the rows it is scored on)."""
        self.check_fitted()
        return one_call_outcome(evalset, route_by_task(evalset, self.table_, self.default_))

    def models_called(self) -> tuple[str, ...]:
        if self.is_fitted:
            return tuple(dict.fromkeys([*self.table_.values(), self.default_]))
        return self.models or ()

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "weights": self.weights, "max_cost": self.max_cost,
               "max_latency_ms": self.max_latency_ms, "min_quality": self.min_quality,
               "models": None if self.models is None else list(self.models)}
        if self.is_fitted:
            out.update(table=self.table_, default=self.default_, unmet=self.unmet_)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> WeightedSelection:
        policy = super().from_dict(d)
        if d.get("table"):  # a fitted policy, as saved
            policy.table_ = {str(t): str(m) for t, m in d["table"].items()}
            policy.default_ = d.get("default") or next(iter(policy.table_.values()))
            policy.unmet_ = list(d.get("unmet") or [])
        return policy

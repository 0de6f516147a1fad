"""The throttling ladder and spend projections, computed from the ledger and an eval set.

Ladder (each level includes the ones before it):

1. **Disable experiments**: stop shadow calls and experiment-tagged traffic. Saves their spend;
   production answers are untouched (quality cost 0).
2. **Route to cheaper models**: replace the current policy by a cheaper one (a cascade with
   lower thresholds, or a task's cheaper model). Saves ``1 - cost(cheaper)/cost(current)`` of
   the remaining production spend, costs ``quality(current) - quality(cheaper)``, both measured
   on the chosen eval set.
3. **Pause non-urgent work**: tasks marked non-urgent (``core.spend.budgets.set_task_urgency``) or
   eval-set items whose metadata says ``urgent`` is false get no answer until the budget resets.
   Saves their (already cheaper) spend; costs their answers (counted as score 0).

>>> from core.routing.policies import SingleModel
>>> ladder = throttle_ladder(ws, es, SingleModel("big"), SingleModel("small"))  # an empty ledger
>>> [(lv.level, lv.saved_usd, lv.quality_cost) for lv in ladder.levels]   # big .75 -> small .50
[(1, 0.0, 0.0), (2, 0.0, 0.25), (3, 0.0, 0.25)]

Projections: at a typed volume per task, daily/monthly/annual cost of the current policy
against the all-frontier baseline (every request to the best single model).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.policies.base import Outcome, Policy
from core.routing.projections import project_spend
from core.spend import clock
from core.spend.budgets import alert_status, budget_timezone, non_urgent_tasks, period_start
from core.spend.queries import SpendFilter, spend_in_windows
from core.workspace import Workspace

LEVEL_FOR_ALERT = {70: 1, 90: 2, 100: 3}
ACTIONS = {1: "Disable experiments (shadow and experiment-tagged calls)",
           2: "Route more traffic to cheaper models",
           3: "Pause non-urgent work"}
_FALSE = {"false", "0", "no", "n", "f", "non-urgent", "nonurgent"}


@dataclass(frozen=True)
class LadderLevel:
    level: int
    action: str
    saved_usd: float  # what this level adds to the savings over the period
    cumulative_saved_usd: float
    quality: float  # eval-set quality once this level (and those below) apply
    quality_cost: float  # drop from the current policy's quality (0.02 = 2 points)
    detail: str


@dataclass(frozen=True)
class Ladder:
    period: str
    since: dt.date
    today: dt.date
    spend_usd: float  # billable spend of the period
    triggered: int  # 0 (no alert) .. 3: the level today's alerts call for
    current_quality: float
    current_cost_per_item: float
    cheaper_quality: float
    cheaper_cost_per_item: float
    levels: list[LadderLevel] = field(default_factory=list)


def urgent_mask(evalset: EvalSet, paused_tasks: list[str]) -> np.ndarray:
    """True for items that keep being served at level 3."""
    urgent = ~np.isin(evalset.tasks.astype(str), [str(t) for t in paused_tasks])
    if "urgent" in evalset.items:
        flag = evalset.items["urgent"].astype(str).str.strip().str.lower()
        urgent &= ~flag.isin(_FALSE).to_numpy()
    return urgent


def _check_cost(outcome: Outcome, name: str) -> float:
    cost = outcome.cost_per_item
    if not np.isfinite(cost):
        raise InputError(f"The eval set has no cost for the {name} policy: the ladder needs costs "
                         "(cost_usd or token counts with a catalog price)")
    return cost


def throttle_ladder(ws: Workspace, evalset: EvalSet, current: Policy, cheaper: Policy,
                    today: dt.date | None = None, period: str = "daily") -> Ladder:
    """Savings and quality cost of each throttling level over ``period`` (to ``today``)."""
    tz = budget_timezone(ws, period)  # the overall budget's days, else the workspace's
    today = today or clock.local_today(tz)
    since = period_start(period, today)
    window = {period: clock.days_window(since, today, tz)}
    by_src = spend_in_windows(ws, window, SpendFilter(scope="billable"),
                              dims=("source", "experiment", "task"))
    total = float(by_src["cost_usd"].sum())
    is_exp = (by_src["source"] == "shadow") | (by_src["experiment"] != "(none)")
    exp_spend = float(by_src.loc[is_exp, "cost_usd"].sum())
    production = by_src[~is_exp]
    remaining = total - exp_spend

    cur_out, cheap_out = current.evaluate(evalset), cheaper.evaluate(evalset)
    cur_cost, cheap_cost = _check_cost(cur_out, "current"), _check_cost(cheap_out, "cheaper")
    ratio = cheap_cost / cur_cost if cur_cost > 0 else 1.0
    saved2 = remaining * max(0.0, 1.0 - ratio)

    paused = non_urgent_tasks(ws)
    keep = urgent_mask(evalset, paused)
    share_paused = float(1.0 - keep.mean()) if len(keep) else 0.0
    if paused:
        nu_spend = float(production.loc[production["task"].isin(paused), "cost_usd"].sum())
        basis = f"tasks marked non-urgent: {', '.join(paused)}"
    else:
        nu_spend = remaining * share_paused  # no ledger flags: the eval set's share of such items
        basis = (f"{share_paused:.0%} of eval-set items are non-urgent (metadata 'urgent' false); "
                 "their share of production spend is assumed equal")
    saved3 = nu_spend * min(ratio, 1.0)
    score3 = np.where(keep, cheap_out.score, 0.0)  # a paused item has no answer: score 0
    q3 = float(np.nanmean(score3)) if np.isfinite(score3).any() else float("nan")

    q_cur, q_cheap = cur_out.quality, cheap_out.quality
    alerts = alert_status(ws, today)
    triggered = max((LEVEL_FOR_ALERT[a.level] for a in alerts), default=0)
    levels, cum = [], 0.0
    for level, saved, quality, detail in (
        (1, exp_spend, q_cur, f"${exp_spend:,.2f} of shadow/experiment spend this period; "
                              "production answers unchanged"),
        (2, saved2, q_cheap, f"cheaper policy costs {ratio:.0%} of the current one per item "
                             f"(${cheap_cost:.6f} vs ${cur_cost:.6f} on {evalset.n_items} items)"),
        (3, saved3, q3, f"{basis}; {share_paused:.0%} of eval-set items get no answer"),
    ):
        cum += saved
        levels.append(LadderLevel(level, ACTIONS[level], float(saved), float(cum), float(quality),
                                  float(q_cur - quality), detail))
    return Ladder(period, since, today, total, triggered, float(q_cur), float(cur_cost),
                  float(q_cheap), float(cheap_cost), levels)


# -- projections -----------------------------------------------------------------------------


def _per_task_cost(evalset: EvalSet, outcome: Outcome) -> pd.Series:
    frame = pd.DataFrame({"task": evalset.tasks.astype(str), "cost": outcome.cost})
    return frame.groupby("task")["cost"].mean()


def _per_task_quality(evalset: EvalSet, outcome: Outcome) -> pd.Series:
    frame = pd.DataFrame({"task": evalset.tasks.astype(str), "score": outcome.score})
    return frame.groupby("task")["score"].mean()


def _project(cost_per_item: float, requests_per_day: float) -> dict[str, float]:
    """core.routing.projections' day/month/year (a month is 365/12 days), under this module's names."""
    out = project_spend(cost_per_item, requests_per_day)
    return {"daily": out["day"], "monthly": out["month"], "annual": out["year"]}


def project_costs(evalset: EvalSet, current: Policy, baseline: Policy,
                  requests_per_day: dict[str, float]) -> pd.DataFrame:
    """Per task (plus a total row): cost of the current policy vs the baseline at a volume, and
    the quality each gives on the eval set's items (the total at the volume's task mix), so a
    saving is never shown without what it costs in quality.

    Cost per item is the policy's mean cost on that task's eval-set items (every task in
    ``requests_per_day`` must have items). Month = 365/12 days, year = 365 days
    (:func:`core.routing.projections.project_spend`).
    """
    cur_out, base_out = current.evaluate(evalset), baseline.evaluate(evalset)
    cur_task, base_task = _per_task_cost(evalset, cur_out), _per_task_cost(evalset, base_out)
    cur_q, base_q = _per_task_quality(evalset, cur_out), _per_task_quality(evalset, base_out)
    rows = []
    for task, volume in requests_per_day.items():
        if task not in cur_task.index:
            raise InputError(f"Task '{task}' has no items in eval set '{evalset.name}': "
                             f"it has {', '.join(map(str, cur_task.index))}")
        try:
            volume = float(volume)
        except (TypeError, ValueError):
            raise InputError(f"Requests per day for '{task}': expected a number, got '{volume}'") from None
        if volume < 0 or not np.isfinite(volume):
            raise InputError(f"Requests per day for '{task}': expected a non-negative number")
        cur, base = _project(cur_task[task], volume), _project(base_task[task], volume)
        row = {"task": task, "requests_per_day": volume,
               "current_quality": float(cur_q[task]), "baseline_quality": float(base_q[task]),
               "current_cost_per_item": float(cur_task[task]),
               "baseline_cost_per_item": float(base_task[task])}
        for k in ("daily", "monthly", "annual"):
            row[f"current_{k}"], row[f"baseline_{k}"] = cur[k], base[k]
            row[f"savings_{k}"] = base[k] - cur[k]
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        total = frame.drop(columns=["task"]).sum(numeric_only=True)
        weight = frame["requests_per_day"] / max(frame["requests_per_day"].sum(), 1e-300)
        for side in ("current", "baseline"):  # quality at the traffic mix typed in
            total[f"{side}_quality"] = float((frame[f"{side}_quality"] * weight).sum())
        total["current_cost_per_item"] = (frame["current_daily"].sum()
                                          / max(frame["requests_per_day"].sum(), 1e-300))
        total["baseline_cost_per_item"] = (frame["baseline_daily"].sum()
                                           / max(frame["requests_per_day"].sum(), 1e-300))
        frame = pd.concat([frame, pd.DataFrame([{"task": "Total", **total.to_dict()}])],
                          ignore_index=True)
    return frame

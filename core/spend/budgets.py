"""Budgets, alerts and the month-end forecast.

Budgets are daily, weekly (ISO weeks, Monday first) or monthly, overall or per task, stored in
the workspace. Spend against a budget is every real dollar in the ledger (scope ``billable``:
production, shadow and playground calls; simulations excluded) from the start of the period to
``today`` inclusive (UTC days)::

    set_budget(ws, "daily", 50.0)                      # overall
    set_budget(ws, "monthly", 400.0, task="support")   # per task
    alert_status(ws)          # [Alert(period='daily', task=None, level=90, ...)] at >= 70/90/100 %
    forecast_month_end(ws)    # month-to-date + trailing mean x remaining days, with an interval

The throttling ladder (what each level would save and cost in quality) is in
:mod:`core.spend.throttle`.
"""
from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InputError
from core.spend.queries import SpendFilter, spend_by
from core.workspace import Workspace

PERIODS = ("daily", "weekly", "monthly")
LEVELS = (100, 90, 70)  # alert thresholds, percent of the budget, highest first

MIGRATIONS = [
    # v1, the DuckLake baseline: one row per (task, period) and per task (writes delete, then
    # insert, under the 'budgets' lock row)
    """
    create table budgets (
        task varchar,                 -- NULL: the overall budget
        period varchar not null,      -- daily | weekly | monthly
        amount_usd double not null,
        updated_at timestamp not null default current_timestamp
    );
    create table task_flags (
        task varchar not null,
        urgent boolean not null       -- false: paused at throttling level 3
    );
    insert into store_locks values ('budgets', 0);
    """,
]


def _ready(ws: Workspace) -> None:
    ws.ensure("budgets", MIGRATIONS)


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise InputError(f"Budget period: expected one of {', '.join(PERIODS)}, got '{period}'")


def set_budget(ws: Workspace, period: str, amount_usd: float, task: str | None = None) -> None:
    """Create or replace the budget for (task, period). ``task=None`` is the overall budget."""
    _check_period(period)
    try:
        amount = float(amount_usd)
    except (TypeError, ValueError):
        raise InputError(f"Budget amount: expected a number of US dollars, got '{amount_usd}'") from None
    if not math.isfinite(amount) or amount <= 0:
        raise InputError(f"Budget amount: expected a positive number of US dollars, got '{amount_usd}'")
    task = task or None
    _ready(ws)

    def body(cur):
        ws.bump(cur, "budgets")
        cur.execute("delete from budgets where task is not distinct from ? and period = ?", [task, period])
        cur.execute("insert into budgets (task, period, amount_usd) values (?, ?, ?)",
                    [task, period, amount])

    ws.write(body)


def delete_budget(ws: Workspace, period: str, task: str | None = None) -> None:
    _check_period(period)
    _ready(ws)
    ws.write(lambda cur: cur.execute("delete from budgets where task is not distinct from ? and period = ?",
                                     [task or None, period]))


def list_budgets(ws: Workspace) -> pd.DataFrame:
    """task (None = overall), period, amount_usd."""
    _ready(ws)
    return ws.cursor().execute(
        "select task, period, amount_usd from budgets order by task nulls first, "
        "case period when 'daily' then 0 when 'weekly' then 1 else 2 end").df()


def set_task_urgency(ws: Workspace, task: str, urgent: bool) -> None:
    """Mark a task urgent (kept at every level) or not (paused at throttling level 3)."""
    if not task:
        raise InputError("Task: expected a task name")
    _ready(ws)

    def body(cur):
        ws.bump(cur, "budgets")
        cur.execute("delete from task_flags where task = ?", [task])
        cur.execute("insert into task_flags values (?, ?)", [task, bool(urgent)])

    ws.write(body)


def non_urgent_tasks(ws: Workspace) -> list[str]:
    _ready(ws)
    return [r[0] for r in ws.cursor().execute(
        "select task from task_flags where not urgent order by task").fetchall()]


# -- periods and alerts ----------------------------------------------------------------------
def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def period_start(period: str, today: dt.date) -> dt.date:
    """First day of the period containing ``today``."""
    _check_period(period)
    if period == "daily":
        return today
    if period == "weekly":
        return today - dt.timedelta(days=today.weekday())
    return today.replace(day=1)


def alert_level(spent_usd: float, budget_usd: float) -> int | None:
    """70, 90 or 100 when spend reached that percent of the budget (boundaries included).

    >>> alert_level(69.99, 100), alert_level(70, 100), alert_level(90, 100), alert_level(100, 100)
    (None, 70, 90, 100)

    Compared as ``spent * 100 >= pct * budget`` (no division), with a relative tolerance of
    1e-12 so that e.g. 0.7 x 0.3 still counts as 70% of 0.3 despite binary rounding.
    """
    if budget_usd is None or budget_usd <= 0:
        return None
    for pct in LEVELS:
        if spent_usd * 100 >= pct * budget_usd * (1 - 1e-12):
            return pct
    return None


@dataclass(frozen=True)
class Alert:
    period: str
    task: str | None
    budget_usd: float
    spent_usd: float
    level: int  # 70 | 90 | 100
    since: dt.date
    unknown_cost_rows: int = 0

    @property
    def ratio(self) -> float:
        return self.spent_usd / self.budget_usd

    @property
    def message(self) -> str:
        who = f"task '{self.task}'" if self.task else "overall"
        verb = "over" if self.level == 100 else "at"
        unknown = (f" (+ {self.unknown_cost_rows:,} row{'s' if self.unknown_cost_rows != 1 else ''} "
                   "of unknown cost)") if self.unknown_cost_rows else ""
        return (f"{self.period.capitalize()} budget ({who}) {verb} {self.ratio:.0%}: "
                f"${self.spent_usd:,.2f}{unknown} of ${self.budget_usd:,.2f} since "
                f"{self.since.isoformat()}")


def budget_status(ws: Workspace, today: dt.date | None = None) -> pd.DataFrame:
    """Every budget with its spend so far this period, ratio and alert level (None below 70%).

    ``spent_usd`` is the known billable spend; ``unknown_cost_rows`` counts the rows of the
    period whose cost is unknown (their spend is not in ``spent_usd``: it is not known, and is
    never taken as $0 without saying so).
    """
    today = today or utc_today()
    budgets = list_budgets(ws)
    cols = ["task", "period", "amount_usd", "since", "spent_usd", "ratio", "level", "unknown_cost_rows"]
    if budgets.empty:
        return pd.DataFrame(columns=cols)
    earliest = min(period_start(p, today) for p in budgets["period"].unique())
    daily = spend_by(ws, ["day", "task"], SpendFilter(date_from=earliest, date_to=today, scope="billable"))
    daily["day"] = daily["day"].dt.date
    rows = []
    for b in budgets.itertuples(index=False):
        since = period_start(b.period, today)
        sel = daily[daily["day"] >= since]
        if not pd.isna(b.task):
            sel = sel[sel["task"] == b.task]
            task = b.task
        else:
            task = None
        spent = float(sel["cost_usd"].sum(min_count=0, skipna=True))  # the known spend
        rows.append({"task": task, "period": b.period, "amount_usd": float(b.amount_usd),
                     "since": since, "spent_usd": spent, "ratio": spent / float(b.amount_usd),
                     "level": alert_level(spent, float(b.amount_usd)),
                     "unknown_cost_rows": int(sel["unknown_cost_rows"].sum())})
    return pd.DataFrame(rows, columns=cols)


def alert_status(ws: Workspace, today: dt.date | None = None) -> list[Alert]:
    """Budgets at or above 70% of their amount this period, most severe first."""
    status = budget_status(ws, today)
    alerts = [Alert(r.period, None if pd.isna(r.task) else r.task, r.amount_usd, r.spent_usd,
                    int(r.level), r.since, int(r.unknown_cost_rows))
              for r in status.itertuples(index=False) if r.level is not None and not pd.isna(r.level)]
    return sorted(alerts, key=lambda a: (-a.level, -a.ratio))


# -- forecast --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Forecast:
    """Month-end spend forecast: month-to-date + trailing daily mean x remaining days.

    The 95% interval assumes the remaining days are independent draws with the trailing
    window's standard deviation: ``forecast ± 1.96 · sd · sqrt(remaining_days)`` (never below
    the month-to-date). With fewer than 2 days of history there is no interval.
    """

    month_start: dt.date
    today: dt.date
    month_to_date: float
    daily_mean: float
    daily_sd: float | None
    window_days: int
    remaining_days: int
    forecast: float
    low: float | None
    high: float | None
    budget_usd: float | None
    method: str = "month-to-date + trailing daily mean × remaining days"
    unknown_cost_rows: int = 0  # rows of the month whose cost is unknown (not in the figures)

    @property
    def over_budget_by(self) -> float | None:
        return None if self.budget_usd is None else self.forecast - self.budget_usd


def forecast_month_end(ws: Workspace, today: dt.date | None = None, window: int = 7,
                       task: str | None = None) -> Forecast:
    """Forecast this month's billable spend at month end (``today`` counts as a full day)."""
    today = today or utc_today()
    start = today.replace(day=1)
    flt = SpendFilter(date_from=start, date_to=today, scope="billable", tasks=(task,) if task else ())
    daily = spend_by(ws, ["day"], flt)
    days = pd.date_range(start, today, freq="D")
    # Known spend per day: a day without rows spent nothing; a day whose rows all have an unknown
    # cost has no known spend (counted in `unknown_cost_rows`, not dropped from the window).
    known = daily.set_index("day")["cost_usd"].fillna(0.0)
    series = known.reindex(days, fill_value=0.0).to_numpy(dtype=float)
    window_days = min(window, len(series))
    recent = series[-window_days:]
    mean = float(recent.mean())
    sd = float(np.std(recent, ddof=1)) if window_days >= 2 else None
    remaining = calendar.monthrange(today.year, today.month)[1] - today.day
    mtd = float(series.sum())
    forecast = mtd + mean * remaining
    low = high = None
    if sd is not None:
        half = 1.96 * sd * math.sqrt(remaining)
        low, high = max(mtd, forecast - half), forecast + half
    budgets = list_budgets(ws)
    match = budgets[(budgets["period"] == "monthly") & (budgets["task"].isna() if task is None
                                                          else budgets["task"] == task)]
    budget = float(match["amount_usd"].iloc[0]) if len(match) else None
    return Forecast(start, today, mtd, mean, sd, window_days, remaining, forecast, low, high, budget,
                    unknown_cost_rows=int(daily["unknown_cost_rows"].sum()))

"""Budgets, alerts and the month-end forecast.

Budgets are daily, weekly (ISO weeks, Monday first) or monthly, overall or per task, stored in
the workspace. Spend against a budget is every real dollar in the ledger (scope ``billable``:
production, shadow and playground calls; simulations excluded) from the start of the period to
``today`` inclusive, in days of the budget's timezone (its own, else the workspace's; UTC until
one is set)::

    set_budget(ws, "daily", 50.0)                      # overall
    set_budget(ws, "monthly", 400.0, task="support")   # per task
    set_timezone(ws, "America/New_York")               # the workspace's days (default UTC)
    set_budget(ws, "daily", 20.0, task="ads", timezone="Europe/Paris")  # a budget's own
    budget_spend(ws, "daily")  # today's spend of the daily budget in its timezone (gateway)
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
from core.spend import clock
from core.spend.queries import SpendFilter, spend_in_windows
from core.workspace import Workspace
from core.workspace.readcache import cached_read

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
    # v2: the timezone budget days are counted in, per budget (NULL: the workspace's) and for the
    # workspace (a setting row; UTC when there is none). No keys: written as delete + insert.
    """
    alter table budgets add column timezone varchar;
    create table budget_settings (
        name varchar not null,        -- timezone
        value varchar not null,
        updated_at timestamp not null default current_timestamp
    );
    """,
]


def _ready(ws: Workspace) -> None:
    ws.ensure("budgets", MIGRATIONS)


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise InputError(f"Budget period: expected one of {', '.join(PERIODS)}, got '{period}'")


# -- timezones -------------------------------------------------------------------------------
def get_timezone(ws: Workspace) -> str:
    """The workspace's timezone for budget days (``UTC`` until one is set)."""
    _ready(ws)
    rows = cached_read(ws, ("budget_settings",), "budgets.timezone", lambda: ws.cursor().execute(
        "select value from budget_settings where name = 'timezone' order by updated_at desc").fetchall())
    return rows[0][0] if rows else clock.DEFAULT_TIMEZONE


def set_timezone(ws: Workspace, name: str) -> str:
    """Set the workspace's timezone (an IANA name, checked); returns its canonical name. Budgets
    without a timezone of their own count days in it."""
    key = clock.zone(name).key
    _ready(ws)

    def body(cur):
        ws.bump(cur, "budgets")  # two writers at once: the loser re-runs, one row is left
        cur.execute("delete from budget_settings where name = 'timezone'")
        cur.execute("insert into budget_settings (name, value) values ('timezone', ?)", [key])

    ws.write(body)
    return key


def budget_timezone(ws: Workspace, period: str, task: str | None = None) -> str:
    """The timezone the budget (``period``, ``task``) counts days in: its own, else the
    workspace's (also when no such budget is set)."""
    budgets = list_budgets(ws)
    match = budgets[(budgets["period"] == period)
                    & (budgets["task"].isna() if not task else budgets["task"] == task)]
    return str(match["timezone"].iloc[0]) if len(match) else get_timezone(ws)


def workspace_today(ws: Workspace, at: dt.datetime | None = None) -> dt.date:
    """The date in the workspace's timezone at ``at`` (default now: :func:`core.spend.clock.now`)."""
    return clock.local_today(get_timezone(ws), at)


def set_budget(ws: Workspace, period: str, amount_usd: float, task: str | None = None,
               timezone: str | None = None) -> None:
    """Create or replace the budget for (task, period). ``task=None`` is the overall budget.

    ``timezone``: the IANA zone its days are counted in; None follows the workspace's
    (:func:`set_timezone`).
    """
    _check_period(period)
    try:
        amount = float(amount_usd)
    except (TypeError, ValueError):
        raise InputError(f"Budget amount: expected a number of US dollars, got '{amount_usd}'") from None
    if not math.isfinite(amount) or amount <= 0:
        raise InputError(f"Budget amount: expected a positive number of US dollars, got '{amount_usd}'")
    task = task or None
    tz = clock.zone(timezone).key if timezone else None
    _ready(ws)

    def body(cur):
        ws.bump(cur, "budgets")
        cur.execute("delete from budgets where task is not distinct from ? and period = ?", [task, period])
        cur.execute("insert into budgets (task, period, amount_usd, timezone) values (?, ?, ?, ?)",
                    [task, period, amount, tz])

    ws.write(body)


def delete_budget(ws: Workspace, period: str, task: str | None = None) -> None:
    _check_period(period)
    _ready(ws)
    ws.write(lambda cur: cur.execute("delete from budgets where task is not distinct from ? and period = ?",
                                     [task or None, period]))


def list_budgets(ws: Workspace) -> pd.DataFrame:
    """task (None = overall), period, amount_usd, timezone (the one its days are counted in:
    its own, else the workspace's)."""
    _ready(ws)
    return ws.cursor().execute(
        "select task, period, amount_usd, coalesce(timezone, ?) as timezone from budgets "
        "order by task nulls first, case period when 'daily' then 0 when 'weekly' then 1 else 2 end",
        [get_timezone(ws)]).df()


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
    timezone: str = clock.DEFAULT_TIMEZONE  # the zone whose days the period counts

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
                f"{self.since.isoformat()}"
                + ("" if self.timezone == clock.DEFAULT_TIMEZONE else f" ({self.timezone})"))


@dataclass(frozen=True)
class BudgetSpend:
    """A budget's billable spend so far this period, counted in its timezone's days."""

    period: str
    task: str | None
    timezone: str
    today: dt.date                # the date in ``timezone``
    since: dt.date                # the period's first day there
    start_utc: dt.datetime        # [start_utc, end_utc): the period to the end of today, in UTC
    end_utc: dt.datetime          # (naive, as the ledger stores times)
    spent_usd: float              # the known spend
    unknown_cost_rows: int        # rows of the period whose cost is unknown (not in spent_usd)
    amount_usd: float | None      # None: no such budget is set

    @property
    def level(self) -> int | None:
        return None if self.amount_usd is None else alert_level(self.spent_usd, self.amount_usd)


def _spend_to_date(ws: Workspace, wanted: list[tuple[str, str | None, str, dt.date]]) -> list[tuple]:
    """(period, task, timezone, today) -> (window, known spend, unknown rows), one query for all."""
    windows, keys = {}, []
    for period, _task, tz, today in wanted:
        key = f"{period}|{tz}|{today.isoformat()}"
        windows[key] = clock.days_window(period_start(period, today), today, tz)
        keys.append(key)
    spent = spend_in_windows(ws, windows, SpendFilter(scope="billable"), dims=("task",))
    out = []
    for (_period, task, _tz, _today), key in zip(wanted, keys):
        sel = spent[spent["key"] == key]
        if task is not None:
            sel = sel[sel["task"] == task]
        out.append((windows[key], float(sel["cost_usd"].sum()), int(sel["unknown_cost_rows"].sum())))
    return out


def budget_spend(ws: Workspace, period: str = "daily", task: str | None = None,
                 at: dt.datetime | None = None) -> BudgetSpend:
    """The spend so far this period of the budget (``period``, ``task``) at the instant ``at``
    (default now), counted in the budget's timezone: e.g. today's spend of the daily budget, what
    a gateway asks before it admits a request. A budget that is not set has ``amount_usd`` None
    and counts in the workspace's timezone.

    >>> set_timezone(ws, "Asia/Tokyo")
    'Asia/Tokyo'
    >>> set_budget(ws, "daily", 10.0)
    >>> at = dt.datetime(2026, 3, 10, 16, 0, tzinfo=dt.UTC)        # 01:00 on March 11 in Tokyo
    >>> b = budget_spend(ws, "daily", at=at)
    >>> b.today, b.start_utc, b.end_utc                            # Tokyo's March 11, in UTC
    (datetime.date(2026, 3, 11), datetime.datetime(2026, 3, 10, 15, 0), datetime.datetime(2026, 3, 11, 15, 0))
    """
    _check_period(period)
    task = task or None
    budgets = list_budgets(ws)
    match = budgets[(budgets["period"] == period)
                    & (budgets["task"].isna() if task is None else budgets["task"] == task)]
    tz = budget_timezone(ws, period, task)
    today = clock.local_today(tz, at)
    ((start, end), spent, unknown), = _spend_to_date(ws, [(period, task, tz, today)])
    return BudgetSpend(period, task, tz, today, period_start(period, today), start, end, spent,
                       unknown, float(match["amount_usd"].iloc[0]) if len(match) else None)


def budget_status(ws: Workspace, today: dt.date | None = None) -> pd.DataFrame:
    """Every budget with its spend so far this period, ratio and alert level (None below 70%).

    Each budget counts days in its timezone (``timezone``: its own, else the workspace's): its
    period runs from the first local midnight of the period to the end of ``today`` there.
    ``today`` (a date) is the same date for every budget; by default each budget's own today
    (:func:`core.spend.clock.now` in its timezone). ``spent_usd`` is the known billable spend;
    ``unknown_cost_rows`` counts the rows of the period whose cost is unknown (their spend is
    not in ``spent_usd``: it is not known, and is never taken as $0 without saying so).
    """
    budgets = list_budgets(ws)
    cols = ["task", "period", "amount_usd", "since", "spent_usd", "ratio", "level",
            "unknown_cost_rows", "timezone"]
    if budgets.empty:
        return pd.DataFrame(columns=cols)
    at = clock.now()
    wanted = [(b.period, None if pd.isna(b.task) else b.task, b.timezone,
               today or clock.local_today(b.timezone, at)) for b in budgets.itertuples(index=False)]
    rows = []
    for (period, task, tz, day), b, (_, spent, unknown) in zip(
            wanted, budgets.itertuples(index=False), _spend_to_date(ws, wanted)):
        amount = float(b.amount_usd)
        rows.append({"task": task, "period": period, "amount_usd": amount,
                     "since": period_start(period, day), "spent_usd": spent,
                     "ratio": spent / amount, "level": alert_level(spent, amount),
                     "unknown_cost_rows": unknown, "timezone": tz})
    return pd.DataFrame(rows, columns=cols)


def alert_status(ws: Workspace, today: dt.date | None = None) -> list[Alert]:
    """Budgets at or above 70% of their amount this period, most severe first."""
    status = budget_status(ws, today)
    alerts = [Alert(r.period, None if pd.isna(r.task) else r.task, r.amount_usd, r.spent_usd,
                    int(r.level), r.since, int(r.unknown_cost_rows), r.timezone)
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
    timezone: str = clock.DEFAULT_TIMEZONE  # the zone whose days and month are counted

    @property
    def over_budget_by(self) -> float | None:
        return None if self.budget_usd is None else self.forecast - self.budget_usd


def forecast_month_end(ws: Workspace, today: dt.date | None = None, window: int = 7,
                       task: str | None = None, demo: bool = False) -> Forecast:
    """Forecast this month's billable spend at month end (``today`` counts as a full day). Days
    and the month are those of the monthly budget's timezone (the workspace's when there is no
    such budget); ``today`` defaults to the date there now. ``demo``: of the synthetic demo
    ledger's rows too (the Budgets page's first visit)."""
    budgets = list_budgets(ws)
    match = budgets[(budgets["period"] == "monthly") & (budgets["task"].isna() if task is None
                                                          else budgets["task"] == task)]
    tz = budget_timezone(ws, "monthly", task)
    today = today or clock.local_today(tz)
    start = today.replace(day=1)
    daily = daily_spend(ws, start, today, SpendFilter(scope="billable", tasks=(task,) if task else (),
                                                          demo=demo),
                        timezone=tz)
    # Known spend per day: a day without rows spent nothing; a day whose rows all have an unknown
    # cost has no known spend (counted in `unknown_cost_rows`, not dropped from the window).
    series = daily["cost_usd"].to_numpy(dtype=float)
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
    budget = float(match["amount_usd"].iloc[0]) if len(match) else None
    return Forecast(start, today, mtd, mean, sd, window_days, remaining, forecast, low, high, budget,
                    unknown_cost_rows=int(daily["unknown_cost_rows"].sum()), timezone=tz)


def daily_spend(ws: Workspace, first: dt.date, last: dt.date,
                flt: SpendFilter = SpendFilter(scope="billable"), timezone: str | None = None) -> pd.DataFrame:
    """Known spend and rows of unknown cost per day ``first``..``last`` of ``timezone`` (default:
    the workspace's), every day listed (0 when nothing was spent): ``day``, ``cost_usd``,
    ``unknown_cost_rows``. ``flt`` gives the scope and filters, not the dates."""
    tz = timezone or get_timezone(ws)
    days = pd.date_range(first, last, freq="D").date
    windows = {d.isoformat(): clock.days_window(d, d, tz) for d in days}
    found = spend_in_windows(ws, windows, flt).set_index("key")
    keys = [d.isoformat() for d in days]
    return pd.DataFrame({
        "day": pd.to_datetime(days),
        "cost_usd": found["cost_usd"].reindex(keys, fill_value=0.0).to_numpy(dtype=float),
        "unknown_cost_rows": found["unknown_cost_rows"].reindex(keys, fill_value=0).to_numpy(dtype=int)})

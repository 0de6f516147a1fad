"""Gateway budgets: spend limits on the gateway's traffic, overall, per team and per gateway key.

A budget counts the gateway's calls in the ledger (``source = 'gateway'``) over its period
(daily, weekly from Monday, monthly; days of the workspace's timezone, UTC unless set) for its scope: ``overall`` (every gateway call),
``team`` (calls tagged with that team, from the ``X-Tradeoff-Team`` header) or ``key`` (calls
made with that gateway key). Its ``action`` applies once spend reaches ``action_at`` percent of
the limit (100 unless set):

==========  ================================================================================
``alert``   nothing but the 70/90/100% webhooks (every budget sends those)
``switch``  requests are served by the cheaper saved policy ``switch_to`` instead (the
            throttling ladder's level 2, live)
``refuse``  requests not marked urgent (``X-Tradeoff-Urgent: true``) get a 429 saying which
            budget, spent/limit and when it resets (the ladder's level 3, live)
``stop``    every request gets that 429 (hard stop)
==========  ================================================================================

When several budgets apply to a request the strictest action wins (stop > refuse > switch).
The store agent computes :func:`budget_state` every cycle and publishes it to the workers
(:mod:`core.gateway.watch`); workers decide from it in memory (:mod:`core.gateway.guard`)::

    set_budget(ws, "team", "daily", 50.0, subject="support", action="switch", switch_to="cheap")
    set_budget(ws, "overall", "monthly", 2000.0, action="refuse", action_at=90)
    budget_state(ws)   # [{scope, subject, period, limit_usd, spent_usd, since, resets_at, ...}]
"""
from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import replace
from typing import Any

import pandas as pd

from core.errors import InputError
from core.gateway.apikeys import resolve_key_ref
from core.spend import clock
from core.spend.budgets import PERIODS, alert_level, get_timezone, period_start
from core.spend.queries import SpendFilter, spend_in_windows
from core.workspace import Workspace
from core.workspace.readcache import cached_read

SCOPES = ("overall", "team", "key")
ACTIONS = ("alert", "switch", "refuse", "stop")
THRESHOLDS = (70, 90, 100)
SEVERITY = {"alert": 0, "switch": 1, "refuse": 2, "stop": 3}
PREFIX = "tradeoff/"

MIGRATIONS = [
    """
    create table gateway_budgets (
        budget_id varchar not null,     -- uuid made by the application; kept when replaced
        scope varchar not null,         -- overall | team | key
        subject varchar,                -- the team, or the key id; NULL for overall
        period varchar not null,        -- daily | weekly | monthly
        limit_usd double not null,
        action varchar not null,        -- alert | switch | refuse | stop
        switch_to varchar,              -- the cheaper policy's name (action switch)
        action_at integer not null,     -- percent of the limit at which the action applies
        created_at timestamp not null
    );
    insert into store_locks values ('gateway_budgets', 0);
    """,
]


def ensure_gateway_budgets(ws: Workspace) -> None:
    ws.ensure("gateway_budgets", MIGRATIONS)


def period_end(period: str, since: dt.date) -> dt.date:
    """The first day of the next period.

    >>> period_end("monthly", dt.date(2026, 12, 1)), period_end("weekly", dt.date(2026, 11, 30))
    (datetime.date(2027, 1, 1), datetime.date(2026, 12, 7))
    """
    if period == "daily":
        return since + dt.timedelta(days=1)
    if period == "weekly":
        return since + dt.timedelta(days=7)
    return (since.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _check(scope: str, period: str, action: str, action_at: int) -> None:
    for name, value, allowed in (("scope", scope, SCOPES), ("period", period, PERIODS),
                                 ("action", action, ACTIONS)):
        if value not in allowed:
            raise InputError(f"Budget {name}: expected one of {', '.join(allowed)}, got '{value}'")
    if action_at not in THRESHOLDS:
        raise InputError(f"Budget action threshold: expected 70, 90 or 100 (percent), got '{action_at}'")


def set_budget(ws: Workspace, scope: str, period: str, limit_usd: float, *, subject: str | None = None,
               action: str = "alert", switch_to: str | None = None, action_at: int = 100,
               servable: set[str] | None = None) -> dict[str, Any]:
    """Create or replace the budget of (scope, subject, period). ``subject``: the team, or a key's
    id or name. ``servable``: policy names ``switch_to`` may name (checked when given)."""
    try:
        action_at = int(action_at)
        limit = float(limit_usd)
    except (TypeError, ValueError):
        raise InputError(f"Budget limit: expected a number of US dollars, got '{limit_usd}'") from None
    _check(scope, period, action, action_at)
    if not math.isfinite(limit) or limit <= 0:
        raise InputError(f"Budget limit: expected a positive number of US dollars, got '{limit_usd}'")
    subject = (subject or "").strip() or None
    if scope == "overall":
        subject = None
    elif subject is None:
        raise InputError(f"A {scope} budget needs the {scope} it is for (--subject)")
    elif scope == "key":
        subject = resolve_key_ref(ws, subject)
    switch_to = (switch_to or "").strip().removeprefix(PREFIX) or None
    if action == "switch":
        if not switch_to:
            raise InputError("Budget action 'switch' needs the cheaper policy to switch to (--switch-to NAME)")
        if servable is not None and switch_to not in servable:
            raise InputError(f"Budget switch target '{switch_to}' is neither deployed nor a saved policy "
                             f"(servable: {', '.join(sorted(servable)) or 'none'})")
    else:
        switch_to = None
    ensure_gateway_budgets(ws)

    def body(cur) -> str:  # an upsert: delete and insert in one write, under the lock row
        ws.bump(cur, "gateway_budgets")
        old = cur.execute("select budget_id from gateway_budgets where scope = ? and subject is not "
                          "distinct from ? and period = ?", [scope, subject, period]).fetchone()
        budget_id = old[0] if old else uuid.uuid4().hex[:12]
        cur.execute("delete from gateway_budgets where budget_id = ?", [budget_id])
        cur.execute("insert into gateway_budgets values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [budget_id, scope, subject, period, limit, action, switch_to, action_at,
                     dt.datetime.now(dt.UTC).replace(tzinfo=None)])
        return budget_id

    budget_id = ws.write(body)
    return {"budget_id": budget_id, "scope": scope, "subject": subject, "period": period,
            "limit_usd": limit, "action": action, "switch_to": switch_to, "action_at": action_at}


def remove_budget(ws: Workspace, budget_id: str) -> bool:
    ensure_gateway_budgets(ws)

    def body(cur) -> bool:
        found = cur.execute("select count(*) from gateway_budgets where budget_id = ?", [budget_id]).fetchone()[0]
        cur.execute("delete from gateway_budgets where budget_id = ?", [budget_id])
        return bool(found)

    return ws.write(body)


def list_budgets(ws: Workspace) -> pd.DataFrame:
    ensure_gateway_budgets(ws)
    return cached_read(ws, ("gateway_budgets",), "budgets.list_budgets", lambda: ws.cursor().execute(
        "select budget_id, scope, subject, period, limit_usd, action, switch_to, action_at "
        "from gateway_budgets order by case scope when 'overall' then 0 when 'team' then 1 else 2 end, "
        "subject, case period when 'daily' then 0 when 'weekly' then 1 else 2 end").df())


def budget_state(ws: Workspace, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Every gateway budget with its spend this period (periods are days of the workspace's
    timezone, as local-midnight windows in UTC): the list budgets and crossings read."""
    budgets = list_budgets(ws)
    if budgets.empty:
        return []
    tz = get_timezone(ws)
    today = today or clock.local_today(tz)
    starts = {p: period_start(p, today) for p in budgets["period"].unique()}
    windows = {p: clock.days_window(since, today, tz) for p, since in starts.items()}
    gateway = SpendFilter(scope="billable", sources=("gateway",))
    by_team = spend_in_windows(ws, windows, gateway, dims=("project",))
    out = []
    for b in budgets.itertuples(index=False):
        since = starts[b.period]
        sel = by_team[by_team["key"] == b.period]
        if b.scope == "team":
            sel = sel[sel["project"] == b.subject]
        elif b.scope == "key":
            sel = spend_in_windows(ws, {b.period: windows[b.period]},
                                   replace(gateway, tags=(f"key:{b.subject}",)))
        spent = float(sel["cost_usd"].sum())
        resets = clock.local_midnight_utc(period_end(b.period, since), tz)
        out.append({"budget_id": b.budget_id, "scope": b.scope,
                    "subject": None if pd.isna(b.subject) else b.subject, "period": b.period,
                    "limit_usd": float(b.limit_usd), "spent_usd": spent,
                    "pct": 100 * spent / float(b.limit_usd),
                    "level": alert_level(spent, float(b.limit_usd)),
                    "action": b.action, "switch_to": None if pd.isna(b.switch_to) else b.switch_to,
                    "action_at": int(b.action_at), "since": since.isoformat(), "timezone": tz,
                    "resets_at": resets.isoformat() + "Z",
                    "unknown_cost_rows": int(sel["unknown_cost_rows"].sum())})
    return out


def describe(state: dict[str, Any]) -> str:
    """Who a budget is for, for people.

    >>> describe({"scope": "team", "subject": "support", "period": "daily"})
    "daily budget of team 'support'"
    """
    who = {"overall": "the gateway", "team": f"team '{state['subject']}'",
           "key": f"gateway key '{state.get('key_name') or state['subject']}'"}[state["scope"]]
    return f"{state['period']} budget of {who}"


def crossed(state: dict[str, Any]) -> list[int]:
    """The alert thresholds this period's spend has reached.

    >>> crossed({"spent_usd": 0.95, "limit_usd": 1.0})
    [70, 90]
    """
    level = alert_level(state["spent_usd"], state["limit_usd"])
    return [t for t in THRESHOLDS if level is not None and t <= level]


def threshold_text(state: dict[str, Any], threshold: int) -> str:
    action = state["action"]
    then = {"alert": "", "switch": f" Requests now go to the cheaper policy '{state['switch_to']}'.",
            "refuse": " Non-urgent requests are now refused (429).",
            "stop": " Every request is now refused (429)."}[action] if threshold >= state["action_at"] else ""
    return (f"Tradeoff gateway: {describe(state)} reached {threshold}% "
            f"(${state['spent_usd']:,.4f} of ${state['limit_usd']:,.2f} since {state['since']}; "
            f"resets {state['resets_at']}).{then}")

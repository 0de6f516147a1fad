"""What the console's Gateway page shows, computed from the workspace and the gateway folder.

Traffic comes from the ledger's gateway rows (``source = 'gateway'``), which the store agent
commits every half second, so a request shows here within seconds::

    server_status(runtime_dir())        # is a gateway running on this workspace, its store state
    deployed(ws)                        # what is deployed, what each serves
    traffic_by_policy(ws, hours=24)     # requests, calls, failures, escalations, cost per policy
    traffic_per_minute(ws, minutes=60)  # requests and cost per minute and policy
    recent_failures(ws)                 # failed provider calls, newest first
    budget_table(ws)                    # each gateway budget's spend and whether its action applies
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from core.gateway.apikeys import list_keys
from core.gateway.budgets import budget_state, describe
from core.gateway.deployments import current_deployments, slug
from core.gateway.runtime import read_json
from core.routing.optimize.store import list_policies
from core.routing.policies import policy_from_dict
from core.spend import clock
from core.spend.ledger import ensure_ledger
from core.workspace import Workspace

POLICY = "coalesce(nullif(regexp_extract(tags, '(^|,)policy:([^,]+)', 2), ''), '(direct model)')"
LIVE_S = 10.0  # a status.json checked this recently means a gateway is running


def server_status(runtime: Path) -> dict[str, Any]:
    """The gateway's last status (written by its store agent every half second): running or
    not, the store's state, the ledger backlog."""
    status = read_json(Path(runtime) / "status.json") or {}
    checked = status.get("checked_at")
    age = None
    if checked:
        age = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(checked)).total_seconds()
    return {"running": age is not None and age < LIVE_S, "seconds_since_check": age,
            "store": status.get("store"), "store_error": status.get("store_error"),
            "backlog_segments": status.get("backlog_segments"),
            "rows_committed": status.get("rows_committed"), "last_commit": status.get("last_commit")}


def deployed(ws: Workspace) -> pd.DataFrame:
    """name, model field, revision, kind, models, source, deployed_at of what is served now."""
    rows = []
    for name, entry in current_deployments(ws).items():
        try:
            policy = policy_from_dict(entry["spec"])
            kind, models = policy.to_dict().get("kind"), ", ".join(policy.models_called())
        except Exception as exc:  # shown, not raised: the page lists what cannot serve too
            kind, models = "cannot serve", str(exc)
        rows.append({"name": name, "model": f"tradeoff/{name}", "revision": entry["revision"],
                     "kind": kind, "models": models, "source": entry["source"],
                     "deployed_at": entry["deployed_at"]})
    return pd.DataFrame(rows, columns=["name", "model", "revision", "kind", "models", "source", "deployed_at"])


def deployable(ws: Workspace) -> pd.DataFrame:
    """Saved policies with the deployment name each would get: id, name, kind, models, deploy_as."""
    frame = list_policies(ws)
    return frame.assign(deploy_as=[slug(n) for n in frame["name"]])[["id", "name", "kind", "models", "deploy_as"]]


def _since(hours: float) -> dt.datetime:
    """The start of the last ``hours`` (by :func:`core.spend.clock.now`, as every window of the
    spend side: a demo at a fixed time sees its own last day)."""
    return clock.now().replace(tzinfo=None) - dt.timedelta(hours=hours)


def traffic_by_policy(ws: Workspace, hours: float = 24) -> pd.DataFrame:
    """Per policy over the last ``hours``: requests, provider calls, failed calls, requests that
    needed more than one call (escalations and fallbacks), cost (known part) and calls of
    unknown cost."""
    ensure_ledger(ws)
    return ws.cursor().execute(f"""
        with calls as (select {POLICY} as policy, eval_run, status, cost_usd from ledger
                       where source = 'gateway' and ts >= ?),
             requests as (select policy, eval_run, count(*) as n, sum(cost_usd) as cost,
                                 count(*) filter (where status <> 'ok') as failed from calls group by all)
        select policy, count(*) as requests, cast(sum(n) as bigint) as calls,
               cast(sum(failed) as bigint) as failed_calls,
               count(*) filter (where n > 1) as escalated_or_fell_back,
               coalesce(sum(cost), 0) as cost_usd,
               (select count(*) from calls c where c.policy = r.policy and cost_usd is null) as unknown_cost_calls
        from requests r group by policy order by cost_usd desc, policy""", [_since(hours)]).df()


def traffic_per_minute(ws: Workspace, minutes: int = 60) -> pd.DataFrame:
    """minute, policy, requests, cost_usd over the last ``minutes``."""
    ensure_ledger(ws)
    return ws.cursor().execute(f"""
        select date_trunc('minute', ts) as minute, {POLICY} as policy,
               count(distinct eval_run) as requests, coalesce(sum(cost_usd), 0) as cost_usd
        from ledger where source = 'gateway' and ts >= ? group by all order by minute, policy""",
        [_since(minutes / 60)]).df()


def recent_failures(ws: Workspace, limit: int = 20) -> pd.DataFrame:
    """Failed provider calls through the gateway, newest first: ts, policy, provider, model, status."""
    ensure_ledger(ws)
    return ws.cursor().execute(f"""
        select ts, {POLICY} as policy, provider, model, status, latency_ms from ledger
        where source = 'gateway' and status <> 'ok' order by ts desc limit ?""", [int(limit)]).df()


def budget_table(ws: Workspace) -> pd.DataFrame:
    """Each gateway budget for people: budget, limit, spent, used (0..1), action, applies now."""
    keys = list_keys(ws)
    names = dict(zip(keys["key_id"], keys["name"]))
    rows = []
    for s in budget_state(ws):
        s["key_name"] = names.get(s["subject"]) if s["scope"] == "key" else None
        action = {"alert": "alert only", "switch": f"switch to {s['switch_to']}",
                  "refuse": "refuse non-urgent (429)", "stop": "hard stop (429)"}[s["action"]]
        applies = s["action"] != "alert" and s["pct"] >= s["action_at"] * (1 - 1e-12)
        rows.append({"budget_id": s["budget_id"], "budget": describe(s), "limit_usd": s["limit_usd"],
                     "spent_usd": s["spent_usd"], "used": s["pct"] / 100, "alert": f"{s['level']}%" if s["level"] else "",
                     "action": f"{action} at {s['action_at']}%", "applies_now": applies,
                     "resets_at": s["resets_at"], "unknown_cost_rows": s["unknown_cost_rows"]})
    return pd.DataFrame(rows, columns=["budget_id", "budget", "limit_usd", "spent_usd", "used", "alert",
                                       "action", "applies_now", "resets_at", "unknown_cost_rows"])


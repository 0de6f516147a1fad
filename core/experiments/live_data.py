"""What a live experiment measured: one row per served request, its feedback and shadow pairs.

Requests come from the ledger (the gateway's rows tagged with the experiment and the arm,
``source='gateway'``; a request's rows share ``eval_run = gw-<request id>``), feedback is the
newest per request id, live scorers' verdicts are the newest per request and scorer, shadow
pairs are the candidate's real calls beside the control's answer.
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd

from core.experiments.live import ensure_live
from core.spend.ledger import ensure_ledger
from core.workspace import Workspace
from core.workspace.readcache import cached_read

REQUESTS_SQL = """
with req as (
    select substr(eval_run, 4) as request_id, any_value(variant) as arm, min(ts) as ts,
           case when count(cost_usd) = count(*) then sum(cost_usd) end as cost,
           sum(latency_ms) as latency_ms, not bool_or(status = 'ok') as error,
           string_agg(distinct model, ',') as models
    from ledger
    where experiment = ? and source = 'gateway' and eval_run like 'gw-%' and ts >= ?
      and variant in ('control', 'candidate')
    group by eval_run
), fb as (
    select request_id, arg_max(score, received_at) as score, arg_max(label, received_at) as label,
           count(*) as feedback_rows
    from experiment_feedback group by request_id
), sc as (
    select request_id, avg(score) as scorer_score
    from (select request_id, scorer, arg_max(score, scored_at) as score from experiment_scores
          where experiment = ? group by request_id, scorer)
    group by request_id
)
select req.*, coalesce(fb.score, sc.scorer_score) as score,
       case when fb.score is not null then 'feedback'
            when sc.scorer_score is not null then 'scorers' end as score_source,
       fb.score as feedback_score, sc.scorer_score, fb.label,
       coalesce(fb.feedback_rows, 0) as feedback_rows
from req left join fb using (request_id) left join sc using (request_id)
order by ts
"""


def requests(ws: Workspace, experiment: str, since: datetime | None = None) -> pd.DataFrame:
    """One row per request of ``experiment`` served since ``since``: request_id, arm, ts, cost
    (NaN when a call's cost is unknown), latency_ms, error, models, score (its feedback where it
    has some, else the mean of its live scorers' verdicts), score_source ('feedback', 'scorers'
    or None), feedback_score, scorer_score, label."""
    ensure_live(ws)
    ensure_ledger(ws)
    frame = ws.cursor().execute(REQUESTS_SQL, [experiment, since or datetime(1970, 1, 1), experiment]).df()
    for column in ("score", "feedback_score", "scorer_score"):
        frame[column] = frame[column].astype(float)
    frame["cost"] = frame["cost"].astype(float)
    frame["error"] = frame["error"].astype(bool)
    return frame


def pairs(ws: Workspace, experiment: str, since: datetime | None = None) -> pd.DataFrame:
    """Shadow pairs of ``experiment`` since ``since`` (one per request)."""
    ensure_live(ws)
    return ws.cursor().execute(
        "select * from (select *, row_number() over (partition by request_id order by ts) as r "
        "from experiment_pairs where experiment = ? and ts >= ?) where r = 1 order by ts",
        [experiment, since or datetime(1970, 1, 1)]).df().drop(columns="r")


def shadow_spend(ws: Workspace, day_start: datetime) -> dict[str, float]:
    """Shadow spend per experiment since ``day_start`` (what each day's shadow budget counts)."""
    ensure_ledger(ws)
    rows = cached_read(ws, ("ledger",), ("live.shadow_spend", day_start), lambda: ws.cursor().execute(
        "select experiment, coalesce(sum(cost_usd), 0) from ledger where source = 'shadow' "
        "and ts >= ? and experiment is not null group by experiment", [day_start]).fetchall())
    return {name: float(spent) for name, spent in rows}


def served_request(ws: Workspace, request_id: str) -> tuple[str | None, str | None] | None:
    """``(experiment, arm)`` of a request the gateway served, None when it never served it."""
    ensure_ledger(ws)
    row = ws.cursor().execute(
        "select any_value(experiment), any_value(variant) from ledger where eval_run = ? "
        "and source = 'gateway' having count(*) > 0", ["gw-" + request_id]).fetchone()
    return None if row is None else (row[0], row[1])


def served_requests(ws: Workspace, request_ids: list[str]) -> pd.DataFrame:
    """request_id, experiment, arm for those of ``request_ids`` the gateway served."""
    ensure_ledger(ws)
    ids = pd.DataFrame({"request_id": list(dict.fromkeys(request_ids))})
    cur = ws.cursor()
    cur.register("_ids", ids)
    try:
        return cur.execute(
            "select i.request_id, any_value(l.experiment) as experiment, any_value(l.variant) as arm "
            "from _ids i join ledger l on l.eval_run = 'gw-' || i.request_id and l.source = 'gateway' "
            "group by i.request_id").df()
    finally:
        cur.unregister("_ids")

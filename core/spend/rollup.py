"""The daily rollup of the ledger that every spend view reads.

``ledger_daily`` holds per-day sums by every dimension a filter or a grouping can use (provider,
model, task, source, experiment, variant, project, tags, kind, cache hit, service tier),
with the count of rows whose cost is unknown beside the sums. The ledger is
append-only, so committed rows have dense row ids: the rollup remembers how many rows it has
absorbed (``watermark``) and :func:`refresh_rollup` aggregates only the rows appended since, by
whoever wrote them (``record_calls``, imports, or a component inserting in its own transaction).
Updates made by the importer (superseded estimates) re-aggregate the days they touched.

When nothing changed, :func:`refresh_rollup` costs one ``count(*)``.
"""
from __future__ import annotations

from core.spend.ledger import ensure_ledger, write_lock
from core.workspace import Workspace

GROUP = ["provider", "model", "task", "source", "experiment", "variant", "project", "tags", "kind",
         "cache_hit", "service_tier"]
# A NULL cost is unknown: it adds to `unknown_cost_rows`, never to a sum. `cost_counted` and
# `requests_priced` are the cost and requests of rows that know both (cost per 1,000 requests).
_AGG = f"""
    insert into ledger_daily (day, {', '.join(GROUP)}, cost_usd, cost_counted, requests,
        requests_priced, unknown_cost_rows, rows, input_tokens, cached_input_tokens, output_tokens)
    select cast(ts as date) as day, {', '.join(GROUP)},
           sum(cost_usd), sum(cost_usd) filter (where requests is not null),
           cast(sum(requests) as bigint),
           cast(sum(requests) filter (where cost_usd is not null) as bigint),
           count(*) filter (where cost_usd is null), count(*), cast(sum(input_tokens) as bigint),
           cast(sum(cached_input_tokens) as bigint), cast(sum(output_tokens) as bigint)
    from ledger where {{cond}} group by all"""


def refresh_rollup(ws: Workspace) -> None:
    """Absorb the ledger rows appended since the last refresh."""
    ensure_ledger(ws)
    cur = ws.cursor()
    n = cur.execute("select count(*) from ledger").fetchone()[0]
    mark = cur.execute("select watermark from ledger_rollup_state").fetchone()[0]
    if n == mark:
        return
    with write_lock(), ws.transaction() as tx:
        n = tx.execute("select count(*) from ledger").fetchone()[0]
        mark = tx.execute("select watermark from ledger_rollup_state").fetchone()[0]
        if n == mark:
            return
        if n < mark:  # rows were deleted: rebuild from scratch
            tx.execute("delete from ledger_daily")
            mark = 0
        tx.execute(_AGG.format(cond=f"rowid >= {int(mark)}"))
        tx.execute("update ledger_rollup_state set watermark = ?", [n])


def reaggregate_days(cur, days_relation: str) -> None:
    """Recompute the rollup of the days in ``days_relation`` (column ``d``) after an update.

    Call inside the transaction that updated the ledger, holding the write lock.
    """
    mark = cur.execute("select watermark from ledger_rollup_state").fetchone()[0]
    cur.execute(f"delete from ledger_daily where day in (select d from {days_relation})")
    cur.execute(_AGG.format(
        cond=f"rowid < {int(mark)} and cast(ts as date) in (select d from {days_relation})"))

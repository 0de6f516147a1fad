"""The daily rollup of the ledger that every spend view reads.

``ledger_daily`` holds per-day sums by every dimension a filter or a grouping can use (provider,
model, task, source, experiment, variant, project, tags, kind, cache hit, service tier), with the
count of rows whose cost is unknown beside the sums, and the group's dearest call (``max_cost``:
the most expensive calls of any selection cost at least the n-th largest ``max_cost`` of its
rollup rows, so finding them reads only the calls above that, :func:`top_cost_floor`). It is kept exact by
the writers themselves: every write that adds ledger rows adds their sums in the same
transaction (:func:`add_to_rollup`, called by :func:`core.spend.ledger.insert_staged`, the spool
flusher and the importer), and a write that changes rows recomputes the days it touched
(:func:`reaggregate_days`). So the views never write, never wait for a writer, and see the rollup
and the ledger at the same snapshot. Rows may repeat a group (the views always sum);
:func:`compact_rollup`, run by maintenance, folds them together.

Anything that inserts ledger rows must go through those functions (or call
:func:`add_to_rollup` on the rows it inserted, in the same write); :func:`rebuild_rollup`
recomputes the whole table from the ledger.
"""
from __future__ import annotations

from core.workspace import maintenance

GROUP = ["provider", "model", "task", "source", "experiment", "variant", "project", "tags", "kind",
         "cache_hit", "service_tier"]
SUMS = ["cost_usd", "cost_counted", "requests", "requests_priced", "unknown_cost_rows", "rows",
        "input_tokens", "cached_input_tokens", "output_tokens"]
COLUMNS = ["day", *GROUP, *SUMS, "max_cost"]
DDL = """
    create table ledger_daily (
        day date, provider varchar, model varchar, task varchar, source varchar,
        experiment varchar, variant varchar, project varchar, tags varchar, kind varchar,
        cache_hit boolean, service_tier varchar, cost_usd double, cost_counted double,
        requests bigint, requests_priced bigint, unknown_cost_rows bigint, rows bigint,
        input_tokens bigint, cached_input_tokens bigint, output_tokens bigint
    );
"""
ADD_MAX_COST = "alter table ledger_daily add column max_cost double;"  # schema v2 (DDL is v1)


def aggregate_sql(relation: str, cond: str = "true") -> str:
    """The rollup rows (:data:`COLUMNS`) of the ledger rows in ``relation`` (a table or view
    with the ledger's columns) that satisfy ``cond``.

    A NULL cost is unknown: it adds to ``unknown_cost_rows``, never to a sum or ``max_cost``. ``cost_counted``
    and ``requests_priced`` are the cost and requests of rows that know both (cost per 1,000
    requests).
    """
    return f"""
    select cast(ts as date) as day, {', '.join(GROUP)},
           sum(cost_usd), sum(cost_usd) filter (where requests is not null),
           cast(sum(requests) as bigint),
           cast(sum(requests) filter (where cost_usd is not null) as bigint),
           count(*) filter (where cost_usd is null), count(*), cast(sum(input_tokens) as bigint),
           cast(sum(cached_input_tokens) as bigint), cast(sum(output_tokens) as bigint),
           max(cost_usd)
    from {relation} where {cond} group by all"""


REBUILD = "delete from ledger_daily; insert into ledger_daily " + aggregate_sql("ledger")


def add_to_rollup(cur, relation: str) -> None:
    """Add the sums of the ledger rows in ``relation``, inside the write that inserts them."""
    cur.execute("insert into ledger_daily " + aggregate_sql(relation))


def reaggregate_days(cur, days_relation: str) -> None:
    """Recompute the rollup of the days in ``days_relation`` (column ``d``) after an update,
    inside the write that updated the ledger."""
    cur.execute(f"delete from ledger_daily where day in (select d from {days_relation})")
    cur.execute("insert into ledger_daily " + aggregate_sql(
        "ledger", f"cast(ts as date) in (select d from {days_relation})"))


def top_cost_floor(cur, where: str, params: list, n: int) -> float | None:
    """A cost that the ``n`` most expensive calls matching ``where`` (a filter over the rollup)
    all reach, or None when fewer than ``n`` rollup rows know a cost.

    Each rollup row stands for its own calls (none shared), and its ``max_cost`` is one of them;
    so ``n`` rows whose ``max_cost`` is at least the n-th largest are ``n`` distinct calls at or
    above it, and no call below it can be among the ``n`` dearest.
    """
    row = cur.execute(f"select max_cost from ledger_daily where ({where}) and max_cost is not null "
                      f"order by max_cost desc limit 1 offset {int(n) - 1}", params).fetchone()
    return None if row is None else float(row[0])


def rebuild_rollup(ws) -> None:
    """Recompute ``ledger_daily`` from the whole ledger (a repair; never needed in normal use)."""
    ws.write(lambda cur: cur.execute(REBUILD))


def compact_rollup(ws, min_repeats: float = 1.5) -> int:
    """Fold repeated groups of ``ledger_daily`` into one row each; returns the rows removed.

    Does nothing unless the table holds ``min_repeats`` times more rows than groups.
    """
    keys = ", ".join(["day", *GROUP])
    rows, groups = ws.cursor().execute(
        f"select count(*), (select count(*) from (select distinct {keys} from ledger_daily)) "
        "from ledger_daily").fetchone()
    if not rows or rows < groups * min_repeats:
        return 0
    sums = ", ".join(f"sum({c})" if c.startswith("cost") else f"cast(sum({c}) as bigint)" for c in SUMS)
    sums += ", max(max_cost)"

    def body(cur):
        cur.execute(f"create or replace temp table _rollup_folded as "
                    f"select {keys}, {sums} from ledger_daily group by all")
        before = cur.execute("select count(*) from ledger_daily").fetchone()[0]
        cur.execute("delete from ledger_daily")
        cur.execute("insert into ledger_daily select * from _rollup_folded")
        after = cur.execute("select count(*) from _rollup_folded").fetchone()[0]
        cur.execute("drop table _rollup_folded")
        return before - after

    return ws.write(body)


def _fold(ws) -> int:
    return compact_rollup(ws) if "ledger_daily" in ws.tables(ws.cursor()) else 0


maintenance.register("rollup_folded", _fold)

"""Where the money goes: spend queries over the ledger, in DuckDB SQL (bulk, never row by row).

Every query takes a :class:`SpendFilter` (date range, scope, tags) and returns a pandas frame::

    flt = SpendFilter(date_from="2026-01-01", date_to="2026-01-31")
    spend_by(ws, ["day", "model"], flt)      # day, model, cost_usd, requests, calls, tokens...
    totals(ws, flt)["cost_per_1k_requests"]  # 1000 * cost / requests (rows with a request count)
    cache_stats(ws, flt)                     # hit rate and what the hits would have cost
    spend_page_data(ws, flt)                 # every query the Spend page shows, in one dict

Scopes: ``production`` (default) excludes ``shadow``, ``evaluation`` and ``simulation`` rows;
``shadow`` is the cost of real shadow calls and ``evaluation`` that of LLM judges scoring eval
sets, each kept apart; ``simulation`` is spend computed from eval sets (replays), never billed;
``billable`` is every real dollar (all but simulation: what budgets count); ``all`` is everything.
Rows of the synthetic demo ledger (tag :data:`DEMO_TAG`, :mod:`core.spend.demo`) are left out
of every scope unless a filter asks for them (``demo=True``): they are never anyone's spend.

A cost that is not known (NULL in the ledger) is never summed as $0: every grouping returns
``unknown_cost_rows`` beside ``cost_usd``, and ``cost_usd`` is NaN (None in :func:`totals`)
when a group has rows but no known cost. ``cost_usd`` is then the known part of the spend.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import duckdb
import pandas as pd

from core.errors import InputError
from core.spend.ledger import ensure_ledger
from core.spend.rollup import top_cost_floor
from core.workspace import Workspace
from core.workspace.readcache import cached_read

SCOPES = {
    "production": "source not in ('shadow', 'simulation', 'evaluation')",
    "shadow": "source = 'shadow'",
    "evaluation": "source = 'evaluation'",  # LLM-judge calls that score eval sets
    "simulation": "source = 'simulation'",
    "billable": "source <> 'simulation'",
    "all": "true",
}
DEMO_TAG = "tradeoff-demo"  # the rows of the synthetic demo ledger (core.spend.demo)
DIMENSIONS = {
    "day": "day",
    "week": "cast(date_trunc('week', day) as date)",
    "month": "cast(date_trunc('month', day) as date)",
    "task": "coalesce(task, '(no task)')",
    "model": "model",
    "provider": "coalesce(provider, '(unknown)')",
    "experiment": "coalesce(experiment, '(none)')",
    "variant": "coalesce(variant, '(none)')",
    "source": "source",
    "project": "coalesce(project, '(none)')",
    "service_tier": "coalesce(service_tier, 'standard')",
}
# Measures every grouping returns, summed over the daily rollup (core.spend.rollup). Rows
# whose export gave no request count (NULL) add cost but no requests; cost per 1,000 requests
# only uses rows that know both their cost and their request count. A group whose rows all have
# an unknown cost has a NULL cost (unknown), not 0; an empty selection costs 0.
MEASURES = """
    case when coalesce(sum(rows), 0) > 0 and sum(cost_usd) is null then null
         else coalesce(sum(cost_usd), 0) end as cost_usd,
    cast(coalesce(sum(unknown_cost_rows), 0) as bigint) as unknown_cost_rows,
    cast(sum(requests) as bigint) as requests,
    cast(coalesce(sum(rows), 0) as bigint) as rows,
    cast(sum(input_tokens) as bigint) as input_tokens,
    cast(sum(cached_input_tokens) as bigint) as cached_input_tokens,
    cast(sum(output_tokens) as bigint) as output_tokens,
    1000 * sum(cost_counted) / nullif(sum(requests_priced), 0) as cost_per_1k_requests
"""


def _as_date(value, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{name}: expected a date as YYYY-MM-DD, got '{value}'") from None


@dataclass(frozen=True)
class SpendFilter:
    """Which ledger rows a query sees. Dates are inclusive days (UTC); empty tuples = any."""

    date_from: dt.date | str | None = None
    date_to: dt.date | str | None = None
    scope: str = "production"
    tasks: tuple = ()
    models: tuple = ()
    providers: tuple = ()
    experiments: tuple = ()
    variants: tuple = ()
    sources: tuple = ()
    service_tiers: tuple = ()
    tags: tuple = field(default=())  # a row matches when its tags contain any of these
    demo: bool = False  # True: the synthetic demo ledger's rows too (the pages' first visit)

    def where(self, raw: bool = False) -> tuple[str, list]:
        """SQL ``where`` clause and its parameters, over the daily rollup (or the raw ledger)."""
        if self.scope not in SCOPES:
            raise InputError(f"scope: expected one of {', '.join(SCOPES)}, got '{self.scope}'")
        clauses, params = [SCOPES[self.scope]], []
        if not self.demo:
            clauses.append(f"tags is distinct from '{DEMO_TAG}'")
        start, end = _as_date(self.date_from, "from"), _as_date(self.date_to, "to")
        if start and end and end < start:
            raise InputError(f"The date range ends ({end}) before it starts ({start})")
        if start:
            clauses.append("ts >= ?" if raw else "day >= ?")
            params.append(dt.datetime.combine(start, dt.time()) if raw else start)
        if end:
            clauses.append("ts < ?" if raw else "day <= ?")
            params.append(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()) if raw else end)
        for column, values in (("task", self.tasks), ("model", self.models),
                               ("provider", self.providers), ("experiment", self.experiments),
                               ("variant", self.variants), ("source", self.sources),
                               ("service_tier", self.service_tiers)):
            if values:
                expr = DIMENSIONS.get(column, column)
                clauses.append(f"{expr} in ({', '.join('?' * len(values))})")
                params.extend(values)
        if self.tags:
            clauses.append("(" + " or ".join("list_contains(string_split(tags, ','), ?)"
                                             for _ in self.tags) + ")")
            params.extend(self.tags)
        return " and ".join(clauses), params


class RollupRows:
    """The daily rollup rows a filter can see, in every scope, read from the store in one query
    and grouped in memory.

    Every read of a store table costs a dozen catalog queries whatever its size, so a page that
    shows many groupings of the same rows reads them once and passes this in place of the
    workspace to :func:`spend_by`, :func:`totals`, :func:`traffic_share`, :func:`cache_stats` and
    :func:`cost_per_task` (each applies its own filter's scope again)::

        rows = RollupRows(ws, SpendFilter(date_from="2026-01-01"))
        spend_by(rows, ["model"], SpendFilter(date_from="2026-01-01"))   # no store read

    >>> from core.spend.ledger import record_calls
    >>> _ = record_calls(ws, pd.DataFrame({"call_id": ["a", "b"], "ts": [pd.Timestamp("2026-01-02")] * 2,
    ...     "model": ["m", "m"], "cost_usd": [0.5, 0.25], "source": ["live", "shadow"]}))
    >>> rows = RollupRows(ws, SpendFilter())
    >>> totals(rows)["cost_usd"], totals(rows, SpendFilter(scope="shadow"))["cost_usd"]
    (0.5, 0.25)
    """

    def __init__(self, ws: Workspace, flt: SpendFilter = SpendFilter()):
        ensure_ledger(ws)
        where, params = replace(flt, scope="all").where()
        table = ws.cursor().execute(f"select * from ledger_daily where {where}", params).to_arrow_table()
        self.con = duckdb.connect()  # in memory: no catalog between a query and these rows
        self.con.register("picked", table)
        self.con.execute("create table ledger_daily as select * from picked")
        self.con.unregister("picked")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.con.cursor()


def _query(ws: Workspace | RollupRows, sql: str, params: list) -> pd.DataFrame:
    if isinstance(ws, Workspace):
        ensure_ledger(ws)
    return ws.cursor().execute(sql, params).df()


def spend_by(ws: Workspace | RollupRows, dims: list[str], flt: SpendFilter = SpendFilter()) -> pd.DataFrame:
    """Spend grouped by ``dims`` (any of DIMENSIONS), sorted by the dims.

    >>> from core.spend.ledger import record_calls
    >>> _ = record_calls(ws, pd.DataFrame({"call_id": ["a", "b"], "ts": [pd.Timestamp("2026-01-02")] * 2,
    ...                                    "model": ["small", "big"], "cost_usd": [0.002, 0.01]}))
    >>> spend_by(ws, ["day", "model"])[["day", "model", "cost_usd"]]
             day  model  cost_usd
    0 2026-01-02    big     0.010
    1 2026-01-02  small     0.002
    """
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown:
        raise InputError(f"Unknown spend dimension(s) {unknown}: expected {', '.join(DIMENSIONS)}")
    where, params = flt.where()
    select = ", ".join(f"{DIMENSIONS[d]} as {d}" for d in dims)
    group = f"group by {', '.join(dims)} order by {', '.join(dims)}" if dims else ""
    sql = f"select {select + ',' if dims else ''} {MEASURES} from ledger_daily where {where} {group}"
    frame = _query(ws, sql, params)
    if "day" in frame:
        frame["day"] = pd.to_datetime(frame["day"])
    return frame


def totals(ws: Workspace | RollupRows, flt: SpendFilter = SpendFilter()) -> dict:
    """One dict: cost_usd, unknown_cost_rows, requests, rows, tokens, cost_per_1k_requests,
    first/last day.

    ``cost_usd`` is the known spend; None when every matching row has an unknown cost.

    >>> from core.spend.ledger import record_calls
    >>> _ = record_calls(ws, pd.DataFrame({"call_id": ["a", "b"], "ts": [pd.Timestamp("2026-01-05")] * 2,
    ...                                    "model": ["m", "m"], "cost_usd": [0.5, None]}))
    >>> t = totals(ws)
    >>> t["cost_usd"], t["unknown_cost_rows"], t["rows"]
    (0.5, 1, 2)
    """
    where, params = flt.where()
    row = _query(ws, f"select {MEASURES}, min(day) as first_day, max(day) as last_day "
                     f"from ledger_daily where {where}", params).iloc[0]
    out = {k: (None if pd.isna(v) else v) for k, v in row.items()}
    out["cost_usd"] = None if out["cost_usd"] is None else float(out["cost_usd"])
    for key in ("unknown_cost_rows", "requests", "rows", "input_tokens", "cached_input_tokens",
                "output_tokens"):
        out[key] = int(out[key] or 0)
    return out


def traffic_share(ws: Workspace | RollupRows, flt: SpendFilter = SpendFilter()) -> pd.DataFrame:
    """Per model: requests, share of requests, cost, share of the known cost (largest first),
    and the rows whose cost is unknown."""
    where, params = flt.where()
    return _query(ws, f"""
        select model, cast(sum(requests) as bigint) as requests,
               sum(requests) / nullif(sum(sum(requests)) over (), 0) as request_share,
               sum(cost_usd) as cost_usd,
               sum(cost_usd) / nullif(sum(sum(cost_usd)) over (), 0) as cost_share,
               cast(sum(unknown_cost_rows) as bigint) as unknown_cost_rows
        from ledger_daily where {where} group by model order by requests desc nulls last, model""", params)


def cost_per_task(ws: Workspace | RollupRows, flt: SpendFilter = SpendFilter()) -> pd.DataFrame:
    """Per task: cost, requests, cost per request and per 1,000 requests."""
    frame = spend_by(ws, ["task"], flt)
    frame["cost_per_request"] = frame["cost_per_1k_requests"] / 1000
    return frame.sort_values("cost_usd", ascending=False, ignore_index=True)


def cache_stats(ws: Workspace | RollupRows, flt: SpendFilter = SpendFilter()) -> pd.DataFrame:
    """Per model: cache hits, hit rate, and savings.

    Savings are what the hits would have cost at the model's average cost per request over
    the calls that missed the cache (a hit itself costs ~0). ``cached_token_share`` is the
    share of input tokens read from a provider's prompt cache.
    """
    where, params = flt.where()
    frame = _query(ws, f"""
        select model,
               cast(sum(requests) as bigint) as requests,
               cast(coalesce(sum(requests) filter (where cache_hit), 0) as bigint) as cache_hits,
               sum(cost_counted) filter (where not cache_hit)
                   / nullif(sum(requests_priced) filter (where not cache_hit), 0) as avg_cost_per_miss,
               sum(cached_input_tokens) / nullif(sum(input_tokens), 0) as cached_token_share
        from ledger_daily where {where} group by model order by model""", params)
    frame["hit_rate"] = frame["cache_hits"] / frame["requests"].where(frame["requests"] > 0)
    frame["savings_usd"] = (frame["cache_hits"] * frame["avg_cost_per_miss"]).fillna(0.0)
    return frame


def top_calls(ws: Workspace, flt: SpendFilter = SpendFilter(), n: int = 20,
              rows: RollupRows | None = None) -> pd.DataFrame:
    """The ``n`` most expensive ledger rows (the one view that reads the raw ledger).

    ``rows``: the filter's rollup rows, already read (:class:`RollupRows`); their dearest calls
    give a floor that the ``n`` rows all reach (:func:`core.spend.rollup.top_cost_floor`), so
    only the calls at or above it are read, not every call in the date range.
    """
    where, params = flt.where(raw=True)
    if rows is not None:
        floor = top_cost_floor(rows.cursor(), *flt.where(), int(n))
        if floor is not None:
            where, params = f"{where} and cost_usd >= ?", [*params, floor]
    return _query(ws, f"""
        select ts, call_id, provider, model, task, cost_usd, requests, input_tokens,
               output_tokens, source, experiment, variant, kind
        from ledger where {where} order by cost_usd desc nulls last, ts desc limit {int(n)}""", params)


def spend_in_windows(ws: Workspace, windows: dict[str, tuple[dt.datetime, dt.datetime]],
                     flt: SpendFilter = SpendFilter(), dims: tuple[str, ...] = ()) -> pd.DataFrame:
    """Known spend (``cost_usd``) and rows of unknown cost per window of time and ``dims``
    (any of DIMENSIONS but day/week/month): ``windows`` maps a key to [start, end) in UTC (naive,
    as the ledger stores times), e.g. a budget period or a day in the workspace's timezone.
    ``flt`` gives the scope and filters (not its dates).

    Whole UTC days inside a window are read from the daily rollup; only the part-days at its
    edges read the ledger itself, so a UTC window costs what it always did.

    >>> from core.spend.ledger import record_calls
    >>> _ = record_calls(ws, pd.DataFrame({"call_id": ["a", "b"], "model": ["m", "m"],
    ...     "ts": [pd.Timestamp("2026-03-10 06:30"), pd.Timestamp("2026-03-10 07:30")],
    ...     "cost_usd": [1.0, 2.0]}))
    >>> la = (dt.datetime(2026, 3, 10, 7), dt.datetime(2026, 3, 11, 7))  # March 10 in Los Angeles
    >>> spend_in_windows(ws, {"la": la, "utc": (dt.datetime(2026, 3, 10), dt.datetime(2026, 3, 11))},
    ...                  SpendFilter(scope="all"))[["key", "cost_usd"]].values.tolist()
    [['la', 2.0], ['utc', 3.0]]
    """
    days, edges = [], []
    for key, (start, end) in windows.items():
        first = start.date() if start.time() == dt.time() else start.date() + dt.timedelta(days=1)
        last = end.date()  # exclusive
        if first >= last:
            edges.append((key, start, end))
            continue
        days.append((key, first, last))
        if start < dt.datetime.combine(first, dt.time()):
            edges.append((key, start, dt.datetime.combine(first, dt.time())))
        if end > dt.datetime.combine(last, dt.time()):
            edges.append((key, dt.datetime.combine(last, dt.time()), end))
    bare = replace(flt, date_from=None, date_to=None)
    where_days, params_days = bare.where()
    where_raw, params_raw = bare.where(raw=True)
    bad = [d for d in dims if d not in DIMENSIONS or d in ("day", "week", "month")]
    if bad:
        raise InputError(f"Unknown spend dimension(s) {bad} for a window of time")
    inner = "".join(f", {d}" for d in dims)  # the ledger and its rollup share these columns
    outer = "".join(f", {DIMENSIONS[d]} as {d}" for d in dims)
    day_rows = days or [("", dt.date.min, dt.date.min)]          # never matches: an empty list
    edge_rows = edges or [("", dt.datetime.min, dt.datetime.min)]
    day_values = ", ".join(["(?, cast(? as date), cast(? as date))"] * len(day_rows))
    edge_values = ", ".join(["(?, cast(? as timestamp), cast(? as timestamp))"] * len(edge_rows))
    params = ([v for r in day_rows for v in r] + params_days
              + [v for r in edge_rows for v in r] + params_raw)
    # the budget watch asks every 0.5 s: read again only when the ledger or its rollup changed
    ensure_ledger(ws)
    sql = f"""
        select key{outer}, coalesce(sum(cost_usd), 0) as cost_usd,
               cast(coalesce(sum(unknown_cost_rows), 0) as bigint) as unknown_cost_rows,
               cast(coalesce(sum(rows), 0) as bigint) as rows
        from (
            select w.key{inner}, cost_usd, unknown_cost_rows, rows
            from (values {day_values}) w(key, d_from, d_to) join ledger_daily
              on day >= w.d_from and day < w.d_to
            where {where_days}
            union all
            select w.key{inner}, cost_usd, cast(cost_usd is null as int), 1
            from (values {edge_values}) w(key, t_from, t_to) join ledger
              on ts >= w.t_from and ts < w.t_to
            where {where_raw}
        ) group by all order by all"""
    return cached_read(ws, ("ledger", "ledger_daily"), ("spend_in_windows", sql, repr(params)),
                       lambda: _query(ws, sql, params))


LEDGER_TABLES = ("ledger", "ledger_daily")


def filter_options(ws: Workspace, demo: bool = False) -> dict:
    """Values the filters can offer: date bounds and distinct tasks/models/tags (the demo
    ledger's too when ``demo``). Read again only when the ledger changed (any process)."""
    ensure_ledger(ws)
    return cached_read(ws, LEDGER_TABLES, ("filter_options", demo), lambda: read_filter_options(ws, demo))


def read_filter_options(ws: Workspace, demo: bool = False) -> dict:
    """:func:`filter_options` read from the store, uncached: one read of the rollup's distinct
    groups, the distinct values of each filter taken from them in memory."""
    ensure_ledger(ws)
    demo_rows = "" if demo else f"where tags is distinct from '{DEMO_TAG}'"
    groups = ws.cursor().execute(
        "select task, model, provider, experiment, variant, source, "
        "coalesce(service_tier, 'standard') as service_tier, tags, min(day) as lo, max(day) as hi "
        f"from ledger_daily {demo_rows} group by all").to_arrow_table()
    cur = duckdb.connect()
    cur.register("ledger_groups", groups)
    lo, hi = cur.execute("select min(lo), max(hi) from ledger_groups").fetchone()

    def distinct(expr: str) -> list[str]:
        return [r[0] for r in cur.execute(
            f"select distinct v from (select {expr} as v from ledger_groups) where v is not null "
            "and v <> '' order by v").fetchall()]

    return {"first_day": lo, "last_day": hi,
            "tasks": distinct("task"), "models": distinct("model"),
            "providers": distinct("provider"), "experiments": distinct("experiment"),
            "variants": distinct("variant"), "sources": distinct("source"),
            "service_tiers": distinct("service_tier"),
            "tags": distinct("unnest(string_split(tags, ','))")}


def spend_page_data(ws: Workspace, flt: SpendFilter = SpendFilter(), top_n: int = 20) -> dict:
    """Every number the Spend page shows (the bench times exactly this), read again only when the
    ledger or its rollup changed (a commit by any process: :mod:`core.workspace.readcache`)."""
    ensure_ledger(ws)
    return cached_read(ws, LEDGER_TABLES, ("spend_page_data", repr(flt), int(top_n)),
                       lambda: read_spend_page_data(ws, flt, top_n))


def read_spend_page_data(ws: Workspace, flt: SpendFilter = SpendFilter(), top_n: int = 20) -> dict:
    """:func:`spend_page_data` read from the store, uncached: two reads (the filter's rollup rows
    in every scope, grouped in memory, and the most expensive calls from the ledger itself)."""
    def scoped(scope: str) -> SpendFilter:
        return replace(flt, scope=scope)

    flt.where()  # a bad scope or date range is reported before anything is read
    rows = RollupRows(ws, flt)
    return {
        "totals": totals(rows, flt),
        "by_day_model": spend_by(rows, ["day", "model"], flt),
        "by_day_task": spend_by(rows, ["day", "task"], flt),
        "by_day_provider": spend_by(rows, ["day", "provider"], flt),
        "by_provider": spend_by(rows, ["provider"], flt),
        "by_service_tier": spend_by(rows, ["service_tier"], flt),
        "traffic_share": traffic_share(rows, flt),
        "by_task": cost_per_task(rows, flt),
        "cache": cache_stats(rows, flt),
        "top_calls": top_calls(ws, flt, top_n, rows),
        # the split beside production: every real dollar, real shadow calls, simulations
        "billable_totals": totals(rows, scoped("billable")) if flt.scope == "production" else None,
        "shadow_totals": totals(rows, scoped("shadow")) if flt.scope == "production" else None,
        "simulation_totals": (totals(rows, scoped("simulation"))
                              if flt.scope in ("production", "billable") else None),
    }

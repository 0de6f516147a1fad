"""The SQL of an import: typing and checking staged rows, pricing them, making ledger rows.

Staged text is typed ONCE (one pass over the file); validation flags and the ledger rows both
read the typed columns. The import cursor's session time zone is UTC, so a time without an
offset is UTC and one with an offset is converted.

A number is refused, with its row named, when it is not a number, negative, NaN, infinite, or
over the ledger's limits (:data:`core.spend.ledger.LIMITS`: $1,000,000 or 1e13 tokens a row).
A blank cost is priced from the catalog at the tier the row's requests had
(:mod:`core.pricing.usage`): the stated service tier (``batch``) and context window, one-hour
cache writes at their own rate; a row the catalog cannot price keeps an unknown (NULL) cost.
"""
from __future__ import annotations

from core.spend.imports.staging import HASHED_COLUMNS
from core.spend.ledger import LIMITS, REQUEST_ID_PREFIX

SOURCES = ("live", "import", "simulation", "shadow", "playground")
# (cast to timestamp converts to the session time zone, which the import cursor sets to UTC)
_TS = r"""coalesce(cast(try_cast({v} as timestamptz) as timestamp),
    case when regexp_full_match(trim(cast({v} as varchar)), '-?\d+(\.\d+)?') then make_timestamp(cast(
        case when abs(cast(cast({v} as varchar) as double)) > 1e11 then cast(cast({v} as varchar) as double) * 1000
             else cast(cast({v} as varchar) as double) * 1000000 end as bigint)) end)"""
TOKENS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
          "output_tokens")
# column -> (largest value or None, what was expected): the ledger's own limits
NUMBERS = {c: LIMITS[c][::2] for c in ("cost_usd", "input_tokens", "cached_input_tokens",
                                       "cache_write_tokens", "output_tokens", "requests",
                                       "latency_ms")}
NUMBERS["cache_write_1h_tokens"] = LIMITS["cache_write_tokens"][::2]
CHECKS = {  # column -> what was expected (the message of a bad value)
    "ts": "a date-time (ISO 8601 like 2026-01-31T14:05:00Z, or epoch seconds)",
    "model": "a model name",
    **{c: expected for c, (_, expected) in NUMBERS.items()},
    "cache_hit": "true or false",
    "source": "one of " + ", ".join(SOURCES),
}
# Service tiers that are the standard price (NULL in the ledger); others are kept as stated.
STANDARD_TIERS = ("", "standard", "default", "auto", "on_demand")


def _blank(c: str) -> str:
    return f"(s.{c} is null or trim(cast(s.{c} as varchar)) = '')"


def stage_select() -> str:
    """Typed values ``<col>_v``, one ``bad_<col>`` flag per check, ``_bad``, and the raw text of
    bad rows only (for the messages).

    Three nested selects, so every expression is computed once (an alias reused in the same
    select is inlined again by DuckDB): typed values, then flags, then what depends on ``_bad``.
    """
    window = "nullif(trim(cast(s.context_window as varchar)), '')"
    tier = "lower(trim(cast(s.service_tier as varchar)))"
    typed = [f"{_TS.format(v='s.ts')} as ts_v",
             "nullif(trim(cast(s.model as varchar)), '') as model_v",
             "try_cast(s.cache_hit as boolean) as cache_hit_v",
             "coalesce(nullif(lower(trim(cast(s.source as varchar))), ''), 'import') as source_v",
             f"case when {tier} in ({', '.join(repr(t) for t in STANDARD_TIERS)}) then null "
             f"else {tier} end as service_tier_v",
             # Anthropic's "0-200k" is the standard window; "200k-1M" (or ">200k") the long one
             f"case when {window} is null then null else not regexp_matches({window}, '^0(\\D|$)') "
             "end as long_context_v"]
    typed += [f"try_cast(s.{c} as double) as {c}_v" for c in NUMBERS]
    flags = ["ts_v is null as bad_ts", "model_v is null as bad_model",
             f"cache_hit_v is null and not {_blank('cache_hit')} as bad_cache_hit",
             f"source_v not in ({', '.join(repr(x) for x in SOURCES)}) as bad_source"]
    # a blank cell is fine (NULL); text that is not a number, a negative, NaN, an infinity or a
    # number over the ledger's limit is not
    flags += [f"case when {c}_v is null then not {_blank(c)} else {c}_v < 0 or isnan({c}_v) "
              f"or isinf({c}_v){'' if cap is None else f' or {c}_v > {cap!r}'} end as bad_{c}"
              for c, (cap, _) in NUMBERS.items()]
    keep = ["ts_v", "model_v", "cache_hit_v", "source_v", "service_tier_v", "long_context_v"]
    keep += [f"{c}_v" for c in NUMBERS]
    keep += [f"cast(s.{c} as varchar) as {c}" for c in ("provider", "task", "project", "status",
                                                        "experiment", "variant", "tags",
                                                        "natural_id", "kind", "cost_basis")]
    keep += [f"bad_{c}" for c in CHECKS] + ["_bad"]
    raw = ", ".join(f"{c} := s.{c}" for c in CHECKS)
    content = ", ".join(f"coalesce(cast(s.{c} as varchar), '')" for c in HASHED_COLUMNS)
    any_bad = " or ".join(f"bad_{c}" for c in CHECKS)
    return (f"select {', '.join(keep)}, "
            f"case when _bad then struct_pack({raw}) end as _raw, "
            f"case when not _bad and (s.natural_id is null or trim(cast(s.natural_id as varchar)) = '') "
            f"then md5(concat_ws('|', {content})) end as _content "
            f"from (select *, ({any_bad}) as _bad from ("
            f"  select *, {', '.join(flags)} from ("
            f"    select s.*, {', '.join(typed)} from stage_src s) s) s) s")


def _estimate(ints: dict[str, str]) -> str:
    """The catalog cost of a staged row joined to its unit prices ``p`` (NULL: no price).

    Input tokens include cache reads and writes, each priced at its own rate; one-hour writes
    are the part of the writes the report says lasted an hour. A usage row pays the long-context
    tier only when the report states it; a single call also when its own input passes the tier.
    """
    long = (f"coalesce(s.long_context_v, coalesce(s.kind, 'call') = 'call' "
            f"and {ints['input_tokens']} > p.long_start, false)")

    def rate(r: str) -> str:
        return f"(case when {long} and p.{r}_long is not null then p.{r}_long else p.{r} end)"

    writes_1h = f"least({ints['cache_write_1h_tokens']}, {ints['cache_write_tokens']})"
    uncached = (f"greatest({ints['input_tokens']} - {ints['cached_input_tokens']} "
                f"- {ints['cache_write_tokens']}, 0)")
    return (f"({uncached} * {rate('input')} + {ints['cached_input_tokens']} * {rate('cache_read')}"
            f" + ({ints['cache_write_tokens']} - {writes_1h}) * {rate('cache_write')}"
            f" + {writes_1h} * {rate('cache_write_1h')} + {ints['output_tokens']} * {rate('output')})")


def normalized_select(fmt: str, file_name: str, priced: bool) -> str:
    """SQL turning the good staged rows into ledger rows (ALL_COLUMNS).

    Rows carrying a provider request id get the format-independent id
    ``req:<id>`` (:func:`core.spend.ledger.request_call_id`); the others hash their content,
    numbered among identical rows, under the format's name.
    """
    ints = {c: f"coalesce(cast(round(s.{c}_v) as bigint), 0)" for c in TOKENS}
    if priced:
        cost = f"coalesce(s.cost_usd_v, {_estimate(ints)})"
        basis = ("case when s.cost_usd_v is not null then coalesce(s.cost_basis, 'reported') "
                 "when p.input is not null then 'catalog' else 'unknown' end")
        join = ("left join prices p on p.model = s.model_v "
                "and p.batch = (s.service_tier_v is not distinct from 'batch')")
    else:
        cost, basis, join = "s.cost_usd_v", "coalesce(s.cost_basis, 'reported')", ""
    # Rows with the export's own id use it; the others hash their content, numbered among
    # identical rows (the window runs only over those, keeping big id-carrying imports cheap).
    keyed = f"""(
            select *, '{REQUEST_ID_PREFIX}' || trim(natural_id) as _key from stage
            where not _bad and _content is null
            union all
            select *, '{fmt}:' || _content || '#' || row_number() over (partition by _content)
            from stage where _content is not null
        )"""
    tags = "nullif(regexp_replace(trim(s.tags), '[\\[\\]\"'' ]', '', 'g'), '')"
    return f"""
        select s._key as call_id,
            s.ts_v as ts,
            nullif(trim(s.provider), '') as provider,
            s.model_v as model,
            nullif(trim(s.task), '') as task,
            null::varchar as eval_run,
            {ints['input_tokens']} as input_tokens,
            {ints['cached_input_tokens']} as cached_input_tokens,
            {ints['cache_write_tokens']} as cache_write_tokens,
            {ints['output_tokens']} as output_tokens,
            {cost} as cost_usd,
            s.latency_ms_v as latency_ms,
            coalesce(nullif(lower(trim(s.status)), ''), 'ok') as status,
            coalesce(s.cache_hit_v, false) as cache_hit,
            s.source_v as source,
            nullif(trim(s.experiment), '') as experiment,
            nullif(trim(s.variant), '') as variant,
            nullif(trim(s.natural_id), '') as request_id,
            {sql_str(file_name)} as import_file,
            case when s.requests_v is null then
                (case when s.kind in ('usage', 'cost') then null else 1 end)
                else cast(round(s.requests_v) as bigint) end as requests,
            {tags} as tags,
            nullif(trim(s.project), '') as project,
            coalesce(s.kind, 'call') as kind,
            {basis} as cost_basis,
            s.service_tier_v as service_tier
        from {keyed} s
        {join}
    """


def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"

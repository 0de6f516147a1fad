"""Import real usage from production into the ledger.

``import_file(ws, path, format)`` reads a usage or cost export, validates every row in bulk
(DuckDB SQL), stores the good rows and reports the bad ones (row, column, what was expected)::

    >>> report = import_file(ws, "spendlogs.csv", "litellm")          # doctest: +SKIP
    >>> report.summary_line()                                         # doctest: +SKIP
    'spendlogs.csv (litellm): 3 rows read, 3 added, 0 already in the ledger, 0 bad rows skipped'

Re-importing a file adds nothing twice: each row's ``call_id`` is deterministic, from the
export's own request id when it has one (LiteLLM ``request_id``, generic ``call_id``), else from
the row's content (time, model, project, tokens, cost...) plus its occurrence number among
identical rows of the file, so an overlapping export of the same buckets also dedupes.

Formats (one module each, listed in :mod:`core.spend.imports.formats`, real field names cited there):

* ``generic``: CSV or JSONL, columns documented in :data:`core.spend.imports.generic.GENERIC_COLUMNS`;
* ``openai``: Usage API (``/v1/organization/usage/completions``) and Costs API
  (``/v1/organization/costs``) JSON pages, or the dashboard's CSV exports of both;
* ``anthropic``: Admin API ``/v1/organizations/usage_report/messages`` and ``cost_report`` JSON
  (or CSV with the same field names);
* ``litellm``: the proxy's ``LiteLLM_SpendLogs`` table (CSV dump or ``/spend/logs`` JSON).

Usage buckets without a cost are priced from the genai-prices catalog (``cost_basis='catalog'``);
when a cost export for the same provider and day is imported too, those estimates are set to 0
(``cost_basis='superseded'``) so the invoice amounts are not counted twice.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from core.errors import InputError, Problem
from core.pricing.catalog import Catalog
from core.pricing.edits import catalog_for
from core.spend.imports.formats import FORMATS, stage_file
from core.spend.imports.generic import restage_as_text
from core.spend.imports.prices import catalog_prices
from core.spend.imports.staging import STAGE_COLUMNS
from core.spend.ledger import ALL_COLUMNS, ensure_ledger, insert_staged, write_lock
from core.workspace import Workspace

MAX_PROBLEMS = 1000
SOURCES = ("live", "import", "simulation", "shadow", "playground")


@dataclass
class ImportReport:
    """What an import did: rows read, added, already there, and every bad row skipped."""

    file: str
    format: str
    rows_read: int = 0
    rows_added: int = 0
    duplicates: int = 0
    bad_rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary_line(self) -> str:
        text = (f"{self.file} ({self.format}): {self.rows_read} rows read, {self.rows_added} added, "
                f"{self.duplicates} already in the ledger, {self.bad_rows} bad rows skipped")
        if self.problems:
            text += " (" + "; ".join(str(p) for p in self.problems[:3])
            text += f"; +{len(self.problems) - 3} more)" if len(self.problems) > 3 else ")"
        return text


# -- SQL building blocks ---------------------------------------------------------------------
# Staged text is typed ONCE (one pass over the file, `stage` below); validation flags and the
# ledger rows both read the typed columns. The import cursor's session time zone is UTC, so a
# time without an offset is UTC and one with an offset is converted.
# (cast to timestamp converts to the session time zone, which the import cursor sets to UTC)
_TS = r"""coalesce(cast(try_cast({v} as timestamptz) as timestamp),
    case when regexp_full_match(trim(cast({v} as varchar)), '-?\d+(\.\d+)?') then make_timestamp(cast(
        case when abs(cast(cast({v} as varchar) as double)) > 1e11 then cast(cast({v} as varchar) as double) * 1000
             else cast(cast({v} as varchar) as double) * 1000000 end as bigint)) end)"""
NUMBERS = {
    "cost_usd": "a non-negative number of US dollars",
    "input_tokens": "a non-negative whole number",
    "cached_input_tokens": "a non-negative whole number",
    "cache_write_tokens": "a non-negative whole number",
    "output_tokens": "a non-negative whole number",
    "requests": "a non-negative whole number",
    "latency_ms": "a non-negative number of milliseconds",
}
CHECKS = {  # column -> what was expected (the message of a bad value)
    "ts": "a date-time (ISO 8601 like 2026-01-31T14:05:00Z, or epoch seconds)",
    "model": "a model name",
    **NUMBERS,
    "cache_hit": "true or false",
    "source": "one of " + ", ".join(SOURCES),
}


def _blank(c: str) -> str:
    return f"(s.{c} is null or trim(cast(s.{c} as varchar)) = '')"


def _stage_select() -> str:
    """Typed values ``<col>_v``, one ``bad_<col>`` flag per check, ``_bad``, and the raw text of
    bad rows only (for the messages).

    Three nested selects, so every expression is computed once (an alias reused in the same
    select is inlined again by DuckDB): typed values, then flags, then what depends on ``_bad``.
    """
    typed = [f"{_TS.format(v='s.ts')} as ts_v",
             "nullif(trim(cast(s.model as varchar)), '') as model_v",
             "try_cast(s.cache_hit as boolean) as cache_hit_v",
             "coalesce(nullif(lower(trim(cast(s.source as varchar))), ''), 'import') as source_v"]
    typed += [f"try_cast(s.{c} as double) as {c}_v" for c in NUMBERS]
    flags = ["ts_v is null as bad_ts", "model_v is null as bad_model",
             f"cache_hit_v is null and not {_blank('cache_hit')} as bad_cache_hit",
             f"source_v not in ({', '.join(repr(x) for x in SOURCES)}) as bad_source"]
    # a blank cell is fine (NULL); text that is not a number, a negative or an infinity is not
    flags += [f"case when {c}_v is null then not {_blank(c)} else {c}_v < 0 or isinf({c}_v) end "
              f"as bad_{c}" for c in NUMBERS]
    keep = ["ts_v", "model_v", "cache_hit_v", "source_v"] + [f"{c}_v" for c in NUMBERS]
    keep += [f"cast(s.{c} as varchar) as {c}" for c in ("provider", "task", "project", "status",
                                                        "experiment", "variant", "tags",
                                                        "natural_id", "kind", "cost_basis")]
    keep += [f"bad_{c}" for c in CHECKS] + ["_bad"]
    raw = ", ".join(f"{c} := s.{c}" for c in CHECKS)
    content = ", ".join(f"coalesce(cast(s.{c} as varchar), '')" for c in STAGE_COLUMNS
                        if c not in ("_row", "natural_id"))
    any_bad = " or ".join(f"bad_{c}" for c in CHECKS)
    return (f"select {', '.join(keep)}, "
            f"case when _bad then struct_pack({raw}) end as _raw, "
            f"case when not _bad and (s.natural_id is null or trim(cast(s.natural_id as varchar)) = '') "
            f"then md5(concat_ws('|', {content})) end as _content "
            f"from (select *, ({any_bad}) as _bad from ("
            f"  select *, {', '.join(flags)} from ("
            f"    select s.*, {', '.join(typed)} from stage_src s) s) s) s")


def _normalized_select(fmt: str, file_name: str, priced: bool) -> str:
    """SQL turning the good staged rows into ledger rows (ALL_COLUMNS)."""
    ints = {c: f"coalesce(cast(round(s.{c}_v) as bigint), 0)" for c in
            ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")}
    # Catalog cost: input_tokens include cache reads and writes, priced at their own rates.
    estimate = (f"(({ints['input_tokens']} - {ints['cached_input_tokens']} - {ints['cache_write_tokens']})"
                f" * p.input + {ints['cached_input_tokens']} * p.cache_read"
                f" + {ints['cache_write_tokens']} * p.cache_write + {ints['output_tokens']} * p.output)")
    if priced:
        cost = f"coalesce(s.cost_usd_v, {estimate}, 0)"
        basis = ("case when s.cost_usd_v is not null then coalesce(s.cost_basis, 'reported') "
                 "when p.input is not null then 'catalog' else 'unknown' end")
        join = "left join prices p on p.model = s.model_v"
    else:
        cost, basis, join = "coalesce(s.cost_usd_v, 0)", "coalesce(s.cost_basis, 'reported')", ""
    # Rows with the export's own id use it; the others hash their content, numbered among
    # identical rows (the window runs only over those, keeping big id-carrying imports cheap).
    keyed = """(
            select *, trim(natural_id) as _key from stage where not _bad and _content is null
            union all
            select *, _content || '#' || row_number() over (partition by _content)
            from stage where _content is not null
        )"""
    tags = "nullif(regexp_replace(trim(s.tags), '[\\[\\]\"'' ]', '', 'g'), '')"
    return f"""
        select '{fmt}:' || s._key as call_id,
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
            {_sql_str(file_name)} as import_file,
            case when s.requests_v is null then
                (case when s.kind in ('usage', 'cost') then null else 1 end)
                else cast(round(s.requests_v) as bigint) end as requests,
            {tags} as tags,
            nullif(trim(s.project), '') as project,
            coalesce(s.kind, 'call') as kind,
            {basis} as cost_basis
        from {keyed} s
        {join}
    """


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# -- the import ------------------------------------------------------------------------------
def import_file(ws: Workspace, path: str | Path | bytes, format: str = "generic",
                name: str | None = None) -> ImportReport:
    """Import a usage/cost export; returns an :class:`ImportReport`.

    ``path`` is a file path, or the bytes of an upload (``name`` labels it in messages). Bad rows
    are reported and skipped; a file with no usable row raises :class:`InputError` and stores
    nothing. Everything runs in one transaction: a failure leaves the ledger as it was.
    """
    if format not in FORMATS:
        raise InputError(f"Unknown import format '{format}': expected one of {', '.join(FORMATS)}")
    ensure_ledger(ws)
    with tempfile.TemporaryDirectory() as tmpdir:
        if isinstance(path, (bytes, bytearray)):
            label = name or "upload"
            src = Path(tmpdir) / "upload"
            src.write_bytes(bytes(path))
        else:
            src = Path(path)
            if not src.is_file():
                raise InputError(f"{src}: no such file")
            label = name or src.name
        report = ImportReport(file=label, format=format)
        # A private connection: its temp tables and UTC session time zone stay its own, and the
        # typed staging read may fail (a value unlike the sniffed type) without poisoning the
        # transaction that writes the ledger.
        cur = ws.cursor().cursor()
        in_transaction = False
        try:
            with write_lock():
                cur.execute("set TimeZone = 'UTC'")  # naive times are UTC, offsets converted
                report.notes += stage_file(cur, src, label, format)
                try:
                    cur.execute(f"create or replace temp table stage as {_stage_select()}")
                except (duckdb.ConversionException, duckdb.InvalidInputException):
                    restage_as_text(cur, src, label)
                    cur.execute(f"create or replace temp table stage as {_stage_select()}")
                _report_problems(cur, report, label)
                if report.rows_read == report.bad_rows:
                    raise InputError(f"{label}: no usable row, nothing was imported", report.problems)
                priced = _register_prices(cur, report, catalog_for(ws))
                # Rows numbered by content need the window once: materialize them. When every
                # row carries the export's id, a view suffices (the id checks read only the id
                # column; the insert is the single pass that builds the rows).
                by_content = cur.execute("select count(_content) from stage").fetchone()[0]
                kind = "table" if by_content else "view"
                cur.execute(f"create or replace temp {kind} incoming as "
                            + _normalized_select(format, label, priced))
                if by_content:
                    cur.execute("drop table stage")
                cur.execute("begin transaction")
                in_transaction = True
                report.rows_added = insert_staged(cur, "incoming")
                report.duplicates = report.rows_read - report.bad_rows - report.rows_added
                if format in ("openai", "anthropic"):
                    _supersede_estimates(cur)
                cur.execute("commit")
                in_transaction = False
        finally:
            if in_transaction:
                cur.execute("rollback")
            cur.close()  # temp tables, views and registrations go with the connection
    from core.spend.rollup import refresh_rollup

    refresh_rollup(ws)  # absorb the new rows now, not in the first spend query after the import
    return report


def _report_problems(cur, report: ImportReport, label: str) -> None:
    """Count rows and bad rows; collect up to MAX_PROBLEMS precise problems."""
    report.rows_read, report.bad_rows = cur.execute(
        "select count(*), count(*) filter (where _bad) from stage").fetchone()
    if not report.bad_rows:
        return
    union = " union all ".join(
        f"select rowid + 1 as _row, '{col}' as col, _raw.{col} as got from stage "
        f"where _bad and bad_{col}"
        for col in CHECKS)
    rows = cur.execute(f"select * from ({union}) order by _row, col limit {MAX_PROBLEMS}").fetchall()
    report.problems = [Problem(label, int(r), c, CHECKS[c], "" if g is None else str(g))
                       for r, c, g in rows]


def _register_prices(cur, report: ImportReport, catalog: Catalog) -> bool:
    """Catalog unit prices for the (provider, model) pairs of rows carrying no cost."""
    pairs = cur.execute("""
        select distinct nullif(trim(provider), '') as provider, model_v as model
        from stage where not _bad and cost_usd_v is null""").df()
    if pairs.empty:
        return False
    unit = catalog_prices(pairs, catalog)
    missing = sorted(unit.loc[unit["input"].isna(), "model"].astype(str))
    if missing:
        report.notes.append("No catalog price for " + ", ".join(missing[:10])
                            + ": their rows without a cost are recorded at $0 (cost basis 'unknown')")
    cur.register("unit_prices", unit)
    cur.execute("create or replace temp table prices as select model, first(input) as input, "
                "first(cache_read) as cache_read, first(cache_write) as cache_write, "
                "first(output) as output from unit_prices where input is not null group by model")
    cur.unregister("unit_prices")
    return True


def _supersede_estimates(cur) -> None:
    """Catalog estimates of usage rows yield to invoiced cost rows of the same provider/day."""
    from core.spend.rollup import reaggregate_days

    cond = """kind = 'usage' and cost_basis = 'catalog' and exists (
            select 1 from ledger c where c.kind = 'cost'
              and c.provider is not distinct from ledger.provider
              and cast(c.ts as date) = cast(ledger.ts as date))"""
    cur.execute(f"create or replace temp table _superseded_days as "
                f"select distinct cast(ts as date) as d from ledger where {cond}")
    if cur.execute("select count(*) from _superseded_days").fetchone()[0]:
        cur.execute(f"update ledger set cost_usd = 0, cost_basis = 'superseded' where {cond}")
        reaggregate_days(cur, "_superseded_days")
    cur.execute("drop table _superseded_days")


__all__ = ["ImportReport", "import_file", "FORMATS", "ALL_COLUMNS"]

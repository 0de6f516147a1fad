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

Formats (parsers in :mod:`core.ledger_formats`, real field names cited there):

* ``generic``: CSV or JSONL, columns documented in :data:`core.ledger_formats.GENERIC_COLUMNS`;
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

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.errors import InputError, Problem
from core.ledger import ALL_COLUMNS, ensure_ledger, insert_staged, write_lock
from core.ledger_formats import FORMATS, GENERIC_DOC, STAGE_COLUMNS, stage_file
from core.ledger_prices import catalog_prices
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
_TS = r"""(case
    when regexp_full_match(trim({v}), '-?\d+(\.\d+)?') then make_timestamp(cast(
        case when abs(cast(trim({v}) as double)) > 1e11 then cast(trim({v}) as double) * 1000
             else cast(trim({v}) as double) * 1000000 end as bigint))
    when regexp_matches(trim({v}), '\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d(:?\d\d)?)$')
        then timezone('UTC', try_cast(trim({v}) as timestamptz))
    else try_cast(trim({v}) as timestamp) end)"""
_BLANK = "(s.{c} is null or trim(s.{c}) = '')"
_NUMBER_CHECKS = {
    "cost_usd": "a non-negative number of US dollars",
    "input_tokens": "a non-negative whole number",
    "cached_input_tokens": "a non-negative whole number",
    "cache_write_tokens": "a non-negative whole number",
    "output_tokens": "a non-negative whole number",
    "requests": "a non-negative whole number",
    "latency_ms": "a non-negative number of milliseconds",
}


def _num(c: str) -> str:
    return f"try_cast(trim(s.{c}) as double)"


def _checks() -> list[tuple[str, str, str]]:
    """(column, SQL condition that makes a row bad, what was expected)."""
    out = [("ts", f"{_TS.format(v='s.ts')} is null",
            "a date-time (ISO 8601 like 2026-01-31T14:05:00Z, or epoch seconds)"),
           ("model", _BLANK.format(c="model"), "a model name")]
    for col, expected in _NUMBER_CHECKS.items():
        out.append((col, f"not {_BLANK.format(c=col)} and coalesce({_num(col)} < 0 "
                         f"or isinf({_num(col)}), true)", expected))
    out.append(("cache_hit", f"not {_BLANK.format(c='cache_hit')} and "
                             "try_cast(trim(s.cache_hit) as boolean) is null", "true or false"))
    out.append(("source", f"not {_BLANK.format(c='source')} and lower(trim(s.source)) not in "
                          f"({', '.join(repr(x) for x in SOURCES)})", "one of " + ", ".join(SOURCES)))
    return out


def _content_key() -> str:
    parts = ", ".join(f"coalesce(s.{c}, '')" for c in STAGE_COLUMNS if c not in ("_row", "natural_id"))
    return f"md5(concat_ws('|', {parts}))"


def _normalized_select(fmt: str, file_name: str, priced: bool) -> str:
    """SQL turning the validated staging rows into ledger rows."""
    ints = {c: f"coalesce(cast(round({_num(c)}) as bigint), 0)" for c in
            ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")}
    # Catalog cost: input_tokens include cache reads and writes, priced at their own rates.
    estimate = (f"(({ints['input_tokens']} - {ints['cached_input_tokens']} - {ints['cache_write_tokens']})"
                f" * p.input + {ints['cached_input_tokens']} * p.cache_read"
                f" + {ints['cache_write_tokens']} * p.cache_write + {ints['output_tokens']} * p.output)")
    if priced:
        cost = f"coalesce({_num('cost_usd')}, {estimate}, 0)"
        basis = (f"case when {_num('cost_usd')} is not null then coalesce(s.cost_basis, 'reported') "
                 "when p.input is not null then 'catalog' else 'unknown' end")
        join = "left join prices p on p.model = trim(s.model)"
    else:
        cost, basis, join = f"coalesce({_num('cost_usd')}, 0)", "coalesce(s.cost_basis, 'reported')", ""
    # Rows with the export's own id use it; the others hash their content (the window that
    # numbers identical rows only runs over those, keeping big id-carrying imports cheap).
    key = f"'{fmt}:' || s._key"
    keyed = f"""(
            select *, trim(natural_id) as _key from stage
            where not _bad and nullif(trim(natural_id), '') is not null
            union all
            select * exclude (_content),
                   _content || '#' || row_number() over (partition by _content order by _row) as _key
            from (select *, {_content_key()} as _content from stage s
                  where not _bad and nullif(trim(natural_id), '') is null)
        )"""
    tags = "nullif(regexp_replace(trim(s.tags), '[\\[\\]\"'' ]', '', 'g'), '')"
    return f"""
        select {key} as call_id,
            {_TS.format(v='s.ts')} as ts,
            nullif(trim(s.provider), '') as provider,
            trim(s.model) as model,
            nullif(trim(s.task), '') as task,
            null::varchar as eval_run,
            {ints['input_tokens']} as input_tokens,
            {ints['cached_input_tokens']} as cached_input_tokens,
            {ints['cache_write_tokens']} as cache_write_tokens,
            {ints['output_tokens']} as output_tokens,
            {cost} as cost_usd,
            {_num('latency_ms')} as latency_ms,
            coalesce(nullif(lower(trim(s.status)), ''), 'ok') as status,
            coalesce(try_cast(trim(s.cache_hit) as boolean), false) as cache_hit,
            coalesce(nullif(lower(trim(s.source)), ''), 'import') as source,
            nullif(trim(s.experiment), '') as experiment,
            nullif(trim(s.variant), '') as variant,
            nullif(trim(s.natural_id), '') as request_id,
            {_sql_str(file_name)} as import_file,
            case when {_BLANK.format(c='requests')} then
                (case when s.kind in ('usage', 'cost') then null else 1 end)
                else cast(round({_num('requests')}) as bigint) end as requests,
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
        with write_lock(), ws.transaction() as cur:
            try:
                report.notes += stage_file(cur, src, label, format)
                checks = _checks()
                bad_any = " or ".join(f"({cond})" for _, cond, _ in checks)
                cur.execute(f"create or replace temp table stage as "
                            f"select *, ({bad_any}) as _bad from stage_src s")
                _report_problems(cur, report, label, checks)
                if report.rows_read == report.bad_rows:
                    raise InputError(f"{label}: no usable row, nothing was imported", report.problems)
                priced = _register_prices(cur, report)
                cur.execute("create or replace temp view incoming as "
                            + _normalized_select(format, label, priced))
                report.rows_added = insert_staged(cur, "incoming")
                report.duplicates = report.rows_read - report.bad_rows - report.rows_added
                if format in ("openai", "anthropic"):
                    _supersede_estimates(cur)
            finally:
                # (a failing statement would abort the transaction: drop only what exists)
                for stmt in ("drop view if exists incoming", "drop table if exists stage",
                             "drop view if exists stage_src", "drop table if exists prices"):
                    cur.execute(stmt)
                try:
                    cur.unregister("stage_frame")
                except Exception:  # nothing registered (the generic reader)
                    pass
    return report


def _report_problems(cur, report: ImportReport, label: str, checks) -> None:
    """Count rows and bad rows; collect up to MAX_PROBLEMS precise problems."""
    report.rows_read, report.bad_rows = cur.execute(
        "select count(*), count(*) filter (where _bad) from stage").fetchone()
    if not report.bad_rows:
        return
    union = " union all ".join(
        f"select s._row, '{col}' as col, '{exp}' as expected, s.{col} as got "
        f"from stage s where s._bad and ({cond})" for col, cond, exp in checks)
    rows = cur.execute(f"select * from ({union}) order by _row, col limit {MAX_PROBLEMS}").fetchall()
    report.problems = [Problem(label, int(r), c, e, "" if g is None else str(g)) for r, c, e, g in rows]


def _register_prices(cur, report: ImportReport) -> bool:
    """Catalog unit prices for the (provider, model) pairs of rows carrying no cost."""
    pairs = cur.execute("""
        select distinct nullif(trim(provider), '') as provider, trim(model) as model
        from stage where not _bad and (cost_usd is null or trim(cost_usd) = '')""").df()
    if pairs.empty:
        return False
    unit = catalog_prices(pairs)
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
    cur.execute("""
        update ledger set cost_usd = 0, cost_basis = 'superseded'
        where kind = 'usage' and cost_basis = 'catalog' and exists (
            select 1 from ledger c where c.kind = 'cost'
              and c.provider is not distinct from ledger.provider
              and cast(c.ts as date) = cast(ledger.ts as date))""")


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


__all__ = ["ImportReport", "import_file", "FORMATS", "ALL_COLUMNS"]

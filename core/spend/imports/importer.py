"""Import real usage from production into the ledger.

``import_file(ws, path, format)`` reads a usage or cost export, validates every row in bulk
(DuckDB SQL), stores the good rows and reports the bad ones (row, column, what was expected)::

    >>> report = import_file(ws, "spendlogs.csv", "litellm")          # doctest: +SKIP
    >>> report.summary_line()                                         # doctest: +SKIP
    'spendlogs.csv (litellm): 3 rows read, 3 added, 0 already in the ledger, 0 bad rows skipped'

Re-importing a file adds nothing twice: each row's ``call_id`` is deterministic, from the
export's own request id when it has one (LiteLLM ``request_id``, generic ``call_id``): then
``req:<id>`` whatever the format, so a request imported as generic and again as LiteLLM counts
once; else from the row's content (time, model, project, tokens, cost...) plus its occurrence
number among identical rows of the file, so an overlapping export of the same buckets also
dedupes.

The format is detected from the file's field names by default (``auto``,
:func:`core.spend.imports.formats.detect_format`); naming one still checks the file is that.
Formats (one module each, listed in :mod:`core.spend.imports.formats`, real field names cited there):

* ``generic``: CSV or JSONL, columns documented in :data:`core.spend.imports.generic.GENERIC_COLUMNS`;
* ``openai``: Usage API (``/v1/organization/usage/completions``) and Costs API
  (``/v1/organization/costs``) JSON pages, or the dashboard's CSV exports of both;
* ``anthropic``: Admin API ``/v1/organizations/usage_report/messages`` and ``cost_report`` JSON
  (or CSV with the same field names);
* ``litellm``: the proxy's ``LiteLLM_SpendLogs`` table (CSV dump or ``/spend/logs`` JSON).

Usage buckets without a cost are priced from the workspace's catalog (``cost_basis='catalog'``)
at the tier their requests had (batch, long context, one-hour cache writes: see
:mod:`core.spend.imports.rows`); rows it cannot price (an unknown model, an export without
models) keep an unknown cost (``cost_basis='unknown'``, NULL), and the report says how to fix
it. When a cost export for the same provider and day is imported too, those estimates and
unknowns are set to 0 (``cost_basis='superseded'``) so the invoice amounts are not counted twice.
Re-importing a file re-prices its rows the ledger holds as catalog estimates (e.g. those the last
release priced as one giant request): no row is added, their cost follows today's rules.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from core.errors import InputError, Problem
from core.pricing.catalog import Catalog
from core.pricing.edits import catalog_for
from core.spend.imports.commit import commit_import
from core.spend.imports.formats import FORMATS, LABELS, detect_format, stage_file
from core.spend.imports.prices import COLUMNS as PRICE_COLUMNS
from core.spend.imports.prices import catalog_prices
from core.spend.imports.rows import CHECKS, normalized_select, stage_select
from core.spend.ledger import ALL_COLUMNS, ensure_ledger
from core.workspace import Workspace

MAX_PROBLEMS = 1000
NO_MODEL = "(all models)"  # the model of usage rows whose export does not name one
# How to get a price for usage the export does not attribute to a model, per provider.
NO_MODEL_FIX = {
    "openai": "re-export the usage grouped by model (Usage API group_by=model, or the usage "
              "dashboard's export by model), or import the Costs API export "
              "(/v1/organization/costs) for the invoiced amounts",
    "anthropic": "re-export the usage report grouped by model (group_by[]=model), or import the "
                 "cost report (/v1/organizations/cost_report) for the invoiced amounts",
}


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
    first_day: dt.date | None = None  # the days (UTC) of the file's usable rows
    last_day: dt.date | None = None

    def summary_line(self) -> str:
        text = (f"{self.file} ({self.format}): {self.rows_read} rows read, {self.rows_added} added, "
                f"{self.duplicates} already in the ledger, {self.bad_rows} bad rows skipped")
        if self.problems:
            text += " (" + "; ".join(str(p) for p in self.problems[:3])
            text += f"; +{len(self.problems) - 3} more)" if len(self.problems) > 3 else ")"
        return text


# -- the import ------------------------------------------------------------------------------
def import_file(ws: Workspace, path: str | Path | bytes, format: str = "auto",
                name: str | None = None) -> ImportReport:
    """Import a usage/cost export; returns an :class:`ImportReport`.

    ``path`` is a file path, or the bytes of an upload (``name`` labels it in messages).
    ``format`` is one of :data:`FORMATS`; ``auto`` detects it from the file. Bad rows are
    reported and skipped; a file with no usable row raises :class:`InputError` and stores
    nothing. The rows are committed in one write (:mod:`core.spend.imports.commit`): a failure
    leaves the ledger as it was, and a concurrent import of the same rows adds them once.
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
        doc = None
        fmt = format
        if format == "auto":
            fmt, doc = detect_format(src, label)
        report = ImportReport(file=label, format=fmt)
        if format == "auto":
            report.notes.append(f"Format detected from the file's columns: {LABELS[fmt]}.")
        # A private connection: its temp tables and UTC session time zone stay its own, and the
        # typed staging read may fail (a value unlike the sniffed type) without poisoning the
        # write. Staging and validation hold no lock; only the commit is a write.
        cur = ws.new_cursor()
        try:
            cur.execute("set TimeZone = 'UTC'")  # naive times are UTC, offsets converted
            report.notes += stage_file(cur, src, label, fmt, doc)
            try:
                cur.execute(f"create or replace temp table stage as {stage_select()}")
            except (duckdb.ConversionException, duckdb.InvalidInputException):
                stage_file(cur, src, label, fmt, doc, typed=False)
                cur.execute(f"create or replace temp table stage as {stage_select()}")
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
                        + normalized_select(fmt, label, priced))
            if by_content:
                cur.execute("drop table stage")
            if priced:
                _note_unpriced(cur, report)
            report.first_day, report.last_day = cur.execute(
                "select min(ts)::date, max(ts)::date from incoming").fetchone()
            repriced = [0]

            def then(c) -> None:  # in the import's write: all or nothing with its rows
                repriced[0] = _reprice_estimates(c) if priced else 0
                if fmt in ("openai", "anthropic"):
                    _supersede_estimates(c)

            report.rows_added = commit_import(ws, cur, "incoming", file_name=label, format=fmt,
                                              rows_read=report.rows_read, then=then)
            if repriced[0]:
                report.notes.append(f"{repriced[0]:,} row(s) already in the ledger were catalog "
                                    "estimates: re-priced at today's catalog and the tier the "
                                    "export states.")
            report.duplicates = report.rows_read - report.bad_rows - report.rows_added
        finally:
            cur.close()  # temp tables, views and registrations go with the connection
    from core.workspace.maintenance import maybe_compact

    maybe_compact(ws)  # imports add big files and many snapshots: keep the store tidy
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
    """Catalog unit prices for the (provider, model, batch) triples of rows carrying no cost."""
    pairs = cur.execute("""
        select distinct nullif(trim(provider), '') as provider, model_v as model,
               service_tier_v is not distinct from 'batch' as batch
        from stage where not _bad and cost_usd_v is null""").df()
    if pairs.empty:
        return False
    cur.register("unit_prices", catalog_prices(pairs, catalog))
    cur.execute("create or replace temp table prices as select model, batch, "
                "first(long_start) as long_start, "
                + ", ".join(f"first({c}) as {c}" for c in PRICE_COLUMNS[4:])
                + " from unit_prices where input is not null group by model, batch")
    cur.unregister("unit_prices")
    return True


def _note_unpriced(cur, report: ImportReport) -> None:
    """Say which rows have an unknown cost, and how to get one; and tiers priced as standard."""
    unknown = cur.execute("""select model, nullif(trim(provider), '') as provider, count(*)
        from incoming where cost_usd is null group by all order by all""").fetchall()
    no_model = [(p, n) for m, p, n in unknown if m == NO_MODEL]
    for provider, n in no_model:
        fix = NO_MODEL_FIX.get(provider or "", "re-export the usage grouped by model")
        report.notes.append(
            f"{n:,} usage row(s) name no model (the export was not grouped by model): their cost "
            f"is unknown, counted as unknown and never as $0. To price them, {fix}.")
    unpriced = sorted({m for m, _, _ in unknown if m != NO_MODEL})
    if unpriced:
        rows = sum(n for m, _, n in unknown if m != NO_MODEL)
        report.notes.append(
            f"No catalog price for {', '.join(unpriced[:10])}{' and more' if len(unpriced) > 10 else ''}: "
            f"their {rows:,} row(s) without a cost have an unknown cost (counted as unknown, "
            "never as $0); add their prices on the Prices page and import the file again.")
    tiers = [r[0] for r in cur.execute("""select distinct service_tier from incoming
        where service_tier is not null and service_tier <> 'batch' and cost_basis = 'catalog'
        order by 1""").fetchall()]
    if tiers:
        report.notes.append(f"Rows of service tier {', '.join(repr(t) for t in tiers)} are priced "
                            "at the standard rates: the catalog has no separate price for them.")


def _reprice_estimates(cur) -> int:
    """Rows already in the ledger as catalog estimates take this import's estimate (today's
    catalog, the tier the export states): re-importing a file re-prices what the last release
    estimated (every usage row as one giant request, no batch or one-hour rates) or an older
    price. Reported, invoiced and superseded costs are never touched. Returns the rows re-priced."""
    from core.spend.rollup import reaggregate_days

    cur.execute("""
        create or replace temp table _repriced as
        select i.call_id, i.cost_usd, i.service_tier, cast(l.ts as date) as d
        from incoming i join ledger l on l.call_id = i.call_id
        where i.cost_basis = 'catalog' and l.cost_basis = 'catalog'
          and (l.cost_usd is distinct from i.cost_usd or l.service_tier is distinct from i.service_tier)""")
    n = cur.execute("select count(*) from _repriced").fetchone()[0]
    if n:
        cur.execute("""update ledger set cost_usd = r.cost_usd, service_tier = r.service_tier
                       from _repriced r where ledger.call_id = r.call_id""")
        cur.execute("create or replace temp table _repriced_days as select distinct d from _repriced")
        reaggregate_days(cur, "_repriced_days")
        cur.execute("drop table _repriced_days")
    cur.execute("drop table _repriced")
    return n


def _supersede_estimates(cur) -> None:
    """Catalog estimates (and unknown costs) of usage rows yield to invoiced cost rows of the same
    provider and day."""
    from core.spend.rollup import reaggregate_days

    cond = """kind = 'usage' and cost_basis in ('catalog', 'unknown') and exists (
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

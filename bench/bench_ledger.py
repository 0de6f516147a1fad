"""Ledger at scale: bulk import of N rows, the Spend page's queries, and row-by-row inserts.

    python -m bench.bench_ledger                 # 10,000,000 rows (files in bench/out, gitignored)
    python -m bench.bench_ledger --rows 1000000  # a quicker run

1. writes a generic usage CSV of N rows (DuckDB COPY; not timed),
2. times ``core.spend.imports.importer.import_file(ws, csv, "generic")`` into a fresh workspace
   (parse + validate every row + dedupe + insert: the real import path),
3. times the spend-by-day-by-model query and each query of the Spend page
   (``core.spend.queries.spend_page_data``, default filter: the last 30 days), cold and warm,
4. times single-row inserts (``record_calls`` with one-row frames, and a plain parameterized
   ``INSERT``) on a small subset and extrapolates to N rows.
Prints a Markdown section; ``--record`` appends it to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import time
from pathlib import Path

import duckdb
import pandas as pd

from core.settings import REPO_ROOT as ROOT
from core.spend.imports.importer import import_file
from core.spend.ledger import record_calls
from core.spend.queries import (
    SpendFilter,
    cache_stats,
    cost_per_task,
    spend_by,
    top_calls,
    totals,
    traffic_share,
)
from core.workspace import Workspace

OUT = ROOT / "bench" / "out"


def make_csv(path: Path, rows: int) -> None:
    """N calls over 90 days: 8 models, 6 tasks, 3 providers, 5% cache hits, 3% shadow."""
    con = duckdb.connect()
    con.execute(f"""
        copy (
          select strftime(timestamp '2026-01-01' + to_seconds(cast(i * 7776000 // {rows} as bigint)),
                          '%Y-%m-%dT%H:%M:%SZ') as ts,
                 'model-' || (hash(i) % 8) as model,
                 ['openai', 'anthropic', 'gemini'][cast(1 + hash(i) % 3 as bigint)] as provider,
                 'task-' || (hash(i * 7) % 6) as task,
                 round((hash(i * 13) % 100000) / 1e7, 7) as cost_usd,
                 (hash(i * 17) % 4000) as input_tokens,
                 (hash(i * 19) % 800) as output_tokens,
                 (hash(i * 23) % 100 < 5) as cache_hit,
                 case when hash(i * 29) % 100 < 3 then 'shadow' else 'live' end as source,
                 case when hash(i * 31) % 100 < 10 then 'exp-1' end as experiment,
                 'call-' || i as call_id
          from range({rows}) t(i)
        ) to '{path}' (header, delimiter ',')""")
    con.close()


def timed(fn, repeat: int = 1):
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--row-by-row", type=int, default=2_000, help="rows inserted one at a time")
    ap.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    ap.add_argument("--keep", action="store_true", help="keep bench/out files")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    csv_path, db_path = OUT / f"ledger_{args.rows}.csv", OUT / "bench_ledger.duckdb"
    for p in (db_path, Path(str(db_path) + ".wal")):
        p.unlink(missing_ok=True)
    if not csv_path.exists():
        t, _ = timed(lambda: make_csv(csv_path, args.rows))
        print(f"wrote {csv_path.name} ({csv_path.stat().st_size / 1e6:,.0f} MB) in {t:.1f}s", flush=True)

    ws = Workspace(db_path)
    cpu0 = time.process_time()
    t_import, report = timed(lambda: import_file(ws, csv_path, "generic"))
    cpu_import = time.process_time() - cpu0  # every DuckDB thread of this process
    assert report.rows_added == args.rows, report.summary_line()
    rate = args.rows / t_import
    print(f"import: {t_import:.1f}s = {rate:,.0f} rows/s, {cpu_import:.1f} CPU-s "
          f"({report.summary_line()})", flush=True)
    t_reimport, again = timed(lambda: import_file(ws, csv_path, "generic"))
    assert again.rows_added == 0
    print(f"re-import (all duplicates): {t_reimport:.1f}s", flush=True)

    last = ws.cursor().execute("select max(ts) from ledger").fetchone()[0].date()
    flt = SpendFilter(date_from=last - dt.timedelta(days=29), date_to=last)
    everything = SpendFilter()
    queries = {
        "spend by day x model (all 90 days)": lambda: spend_by(ws, ["day", "model"], everything),
        "page: totals": lambda: totals(ws, flt),
        "page: by day x model": lambda: spend_by(ws, ["day", "model"], flt),
        "page: by day x task": lambda: spend_by(ws, ["day", "task"], flt),
        "page: by day x provider": lambda: spend_by(ws, ["day", "provider"], flt),
        "page: by provider": lambda: spend_by(ws, ["provider"], flt),
        "page: traffic share": lambda: traffic_share(ws, flt),
        "page: cost per task": lambda: cost_per_task(ws, flt),
        "page: cache stats": lambda: cache_stats(ws, flt),
        "page: top 20 calls": lambda: top_calls(ws, flt, 20),
        "page: shadow totals": lambda: totals(ws, SpendFilter(flt.date_from, flt.date_to, scope="shadow")),
    }
    results = {}
    for name, fn in queries.items():
        cold, _ = timed(fn)
        warm, _ = timed(fn, repeat=3)
        results[name] = (cold, warm)
        print(f"{name}: cold {cold * 1000:,.0f} ms, warm {warm * 1000:,.0f} ms", flush=True)
    page_cold = sum(c for n, (c, _) in results.items() if n.startswith("page:"))
    page_warm = sum(w for n, (_, w) in results.items() if n.startswith("page:"))

    n = args.row_by_row
    base = pd.Timestamp("2027-01-01")

    def one_frame_at_a_time():
        for i in range(n):
            record_calls(ws, pd.DataFrame({"call_id": [f"rbr-{i}"], "ts": [base], "model": ["m"],
                                           "cost_usd": [0.001]}))

    def plain_inserts():
        cur = ws.cursor()
        for i in range(n):
            cur.execute("insert into ledger (call_id, ts, model, cost_usd) values (?, ?, ?, ?)",
                        [f"ins-{i}", base, "m", 0.001])

    t_rbr, _ = timed(one_frame_at_a_time)
    t_ins, _ = timed(plain_inserts)
    per_rbr, per_ins = t_rbr / n, t_ins / n
    print(f"row by row: record_calls {per_rbr * 1e3:.2f} ms/row, plain INSERT {per_ins * 1e3:.2f} ms/row",
          flush=True)
    ws.close()

    lines = [
        f"\n## Ledger (issue 5): {args.rows:,} rows, {dt.date.today().isoformat()}",
        "",
        f"Machine: 2 cores shared with other jobs ({platform.machine()}, Python "
        f"{platform.python_version()}, DuckDB {duckdb.__version__}); `python -m bench.bench_ledger"
        f"{'' if args.rows == 10_000_000 else f' --rows {args.rows}'}`.",
        "",
        f"- Bulk import (`import_file`, generic CSV {csv_path.stat().st_size / 1e6:,.0f} MB: parse, "
        f"validate every row, dedupe, insert): **{t_import:.1f} s = {rate:,.0f} rows/s** "
        f"(aim > 500,000), using {cpu_import:.1f} CPU-seconds = {args.rows / cpu_import:,.0f} rows per "
        f"CPU-second (load average at start {os.getloadavg()[0]:.1f} on 2 cores); re-import of the same file (all duplicates, nothing added): {t_reimport:.1f} s.",
        f"- Row by row, {n:,} rows then extrapolated to {args.rows:,}: `record_calls` with one-row frames "
        f"{per_rbr * 1e3:.2f} ms/row = {per_rbr * args.rows / 3600:,.1f} h; a parameterized `INSERT` per row "
        f"{per_ins * 1e3:.2f} ms/row = {per_ins * args.rows / 3600:,.1f} h "
        f"(bulk is {per_ins * args.rows / t_import:,.0f}x faster than the better of them).",
        f"- Spend page, default filter (last 30 days of {args.rows:,} rows), {len([q for q in results if q.startswith('page:')])} "
        f"queries: **total {page_cold * 1000:,.0f} ms cold, {page_warm * 1000:,.0f} ms warm** (aim < 2 s).",
        "",
        "| query | cold ms | warm ms (best of 3) |",
        "|---|---:|---:|",
    ] + [f"| {name} | {c * 1000:,.0f} | {w * 1000:,.0f} |" for name, (c, w) in results.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.record:
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write(text)
    if not args.keep:
        csv_path.unlink(missing_ok=True)
        for p in (db_path, Path(str(db_path) + ".wal")):
            p.unlink(missing_ok=True)
    shutil.rmtree(OUT / "tmp", ignore_errors=True)
    os.sync()


if __name__ == "__main__":
    main()

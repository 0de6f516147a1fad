"""Ledger at scale on the many-writer store: import rate, Spend page, writers, cold start.

    python -m bench.bench_ledger                  # 10,000,000 rows (files in bench/out, gitignored)
    python -m bench.bench_ledger --rows 1000000   # a quicker run
    python -m bench.bench_ledger --store "postgresql://...?data_path=..."   # team mode

1. writes a generic usage CSV of N rows (DuckDB COPY; not timed);
2. the reference, in the same run: DuckDB's plain ``INSERT INTO ledger SELECT ... FROM
   read_csv(...)`` into a plain DuckDB file (no validation, no duplicate check);
3. ``import_file(ws, csv, "generic")`` into a fresh workspace (parse + validate every row +
   dedupe + commit under the lock row: the real import path), then the same file again (all
   duplicates, nothing added);
4. the Spend page's reads (``read_spend_page_data``: every figure of the page, last 30 days, in
   two store reads; ``read_filter_options``: the filters' values, one read) and spend by day x
   model over all 90 days, cold and warm, with the CPU time beside the wall time;
5. the per-call write paths: ``record_calls`` with one-row frames, and ``LedgerWriter.add`` of
   one row (spooled, fsync-ed) then one flush, per row;
6. cold start in fresh processes: ``import duckdb`` + extensions + ``ATTACH`` + first query of
   the workspace, against opening the plain DuckDB file, 3 runs each.

Prints a Markdown section with the load average before and after; ``--record`` appends it to
bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from core.settings import REPO_ROOT as ROOT

OUT = ROOT / "bench" / "out"
PLAIN_DDL = """create table ledger (call_id varchar not null, ts timestamp not null, provider varchar,
    model varchar not null, task varchar, cost_usd double, input_tokens bigint, output_tokens bigint,
    cache_hit boolean, source varchar, experiment varchar)"""


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


def plain_insert(csv_path: Path, db_path: Path) -> float:
    """DuckDB's own bulk path, for reference: one INSERT ... SELECT FROM read_csv."""
    db_path.unlink(missing_ok=True)
    con = duckdb.connect(str(db_path))
    con.execute(PLAIN_DDL)
    t = time.perf_counter()
    con.execute(f"insert into ledger select call_id, cast(ts as timestamp), provider, model, task, "
                f"cost_usd, input_tokens, output_tokens, cache_hit, source, experiment "
                f"from read_csv('{csv_path}', header = true)")
    elapsed = time.perf_counter() - t
    con.close()
    return elapsed


COLD_LAKE = """
import sys, time
t0 = time.perf_counter()
from core.workspace import Workspace
ws = Workspace(sys.argv[1])
n = ws.cursor().execute("select count(*) from ledger_daily").fetchone()[0]
print(time.perf_counter() - t0)
"""
COLD_PLAIN = """
import sys, time
t0 = time.perf_counter()
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
n = con.execute("select count(*) from ledger").fetchone()[0]
print(time.perf_counter() - t0)
"""


def cold_start(code: str, target: str, runs: int = 3) -> list[float]:
    out = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", code, target], cwd=ROOT, capture_output=True,
                              text=True, check=True, env={**os.environ, "TRADEOFF_STORE": ""})
        out.append(float(done.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    import pandas as pd

    from core.spend.imports.importer import import_file
    from core.spend.ledger import record_calls
    from core.spend.queries import (
        SpendFilter,
        read_filter_options,
        read_spend_page_data,
        spend_by,
        spend_page_data,
    )
    from core.spend.writer import LedgerWriter
    from core.workspace import Workspace

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--row-by-row", type=int, default=200, help="rows written one at a time")
    ap.add_argument("--store", help="a postgresql:// team store (default: an embedded one in bench/out)")
    ap.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    ap.add_argument("--keep", action="store_true", help="keep bench/out files")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    csv_path, plain_path, lake_path = (OUT / f"ledger_{args.rows}.csv", OUT / "bench_plain.duckdb",
                                       OUT / "bench_ws")
    shutil.rmtree(lake_path, ignore_errors=True)
    if not csv_path.exists():
        t, _ = timed(lambda: make_csv(csv_path, args.rows))
        print(f"wrote {csv_path.name} ({csv_path.stat().st_size / 1e6:,.0f} MB) in {t:.1f}s", flush=True)

    t_plain = plain_insert(csv_path, plain_path)
    print(f"plain DuckDB INSERT ... SELECT FROM read_csv: {t_plain:.1f}s = {args.rows / t_plain:,.0f} rows/s",
          flush=True)

    ws = Workspace(args.store or lake_path, progress=lambda m: None)
    cpu0 = time.process_time()
    t_import, report = timed(lambda: import_file(ws, csv_path, "generic"))
    cpu_import = time.process_time() - cpu0
    assert report.rows_added == args.rows, report.summary_line()
    rate = args.rows / t_import
    print(f"import: {t_import:.1f}s = {rate:,.0f} rows/s ({t_import / t_plain:.2f}x the plain insert), "
          f"{cpu_import:.1f} CPU-s", flush=True)
    t_reimport, again = timed(lambda: import_file(ws, csv_path, "generic"))
    assert again.rows_added == 0
    print(f"re-import (all duplicates): {t_reimport:.1f}s", flush=True)

    last = ws.cursor().execute("select max(day) from ledger_daily").fetchone()[0]
    flt = SpendFilter(date_from=last - dt.timedelta(days=29), date_to=last)
    queries = {
        "spend by day x model (all 90 days)": lambda: spend_by(ws, ["day", "model"], SpendFilter()),
        "Spend page: every figure (last 30 days)": lambda: read_spend_page_data(ws, flt),
        "Spend page: the filters' values": lambda: read_filter_options(ws),
        "Spend page rerun, no new rows (cached by the ledger's version)": lambda: spend_page_data(ws, flt),
    }
    results = {}
    for name, fn in queries.items():
        cpu0 = time.process_time()
        cold, _ = timed(fn)
        cpu = time.process_time() - cpu0  # every thread of the process (DuckDB's too)
        warm, _ = timed(fn, repeat=3)
        results[name] = (cold, warm, cpu)
        print(f"{name}: cold {cold * 1000:,.0f} ms ({cpu * 1000:,.0f} ms CPU), warm {warm * 1000:,.0f} ms",
              flush=True)

    n = args.row_by_row
    base = pd.Timestamp("2027-01-01")

    def one_frame_at_a_time():
        for i in range(n):
            record_calls(ws, pd.DataFrame({"call_id": [f"rbr-{i}"], "ts": [base], "model": ["m"],
                                           "cost_usd": [0.001]}))

    writer = LedgerWriter(ws, background=False)

    def spooled():
        for i in range(n):
            writer.add([{"call_id": f"spool-{i}", "ts": base, "model": "m", "cost_usd": 0.001}])

    t_rbr, _ = timed(one_frame_at_a_time)
    t_add, _ = timed(spooled)
    t_flush, flushed = timed(writer.flush)
    writer.close()
    assert flushed == n
    print(f"per call: record_calls {t_rbr / n * 1e3:.1f} ms; LedgerWriter.add {t_add / n * 1e3:.2f} ms "
          f"+ one flush of {n} rows {t_flush:.2f} s", flush=True)
    ws.close()

    cold_lake = cold_start(COLD_LAKE, args.store or str(lake_path))
    cold_plain = cold_start(COLD_PLAIN, str(plain_path))
    print(f"cold start: workspace {[round(x, 2) for x in cold_lake]} s, plain file "
          f"{[round(x, 2) for x in cold_plain]} s", flush=True)
    load_after = os.getloadavg()

    kind = "team (PostgreSQL catalog)" if args.store else "embedded (SQLite catalog)"
    lines = [
        f"\n## Ledger on the many-writer store (issue 10): {args.rows:,} rows, {kind}, "
        f"{dt.date.today().isoformat()}",
        "",
        f"Machine: 2 cores shared with other jobs ({platform.machine()}, Python "
        f"{platform.python_version()}, DuckDB {duckdb.__version__}); load average "
        f"{load_before[0]:.1f} at start, {load_after[0]:.1f} at the end; `python -m bench.bench_ledger"
        f"{'' if args.rows == 10_000_000 else f' --rows {args.rows}'}{' --store ...' if args.store else ''}`.",
        "",
        "| measurement | result |",
        "|---|---|",
        f"| reference: plain DuckDB file, `INSERT INTO ledger SELECT ... FROM read_csv(...)` (no validation) "
        f"| {t_plain:.1f} s = {args.rows / t_plain:,.0f} rows/s |",
        f"| `import_file` (parse, validate every value, dedupe, commit under the lock row) | **{t_import:.1f} s = "
        f"{rate:,.0f} rows/s = {t_import / t_plain:.2f}x the reference's time** ({cpu_import:.1f} CPU-s) |",
        f"| the same file again (all duplicates, nothing added) | {t_reimport:.1f} s |",
    ] + [f"| {name} | {c * 1000:,.0f} ms cold ({cpu * 1000:,.0f} ms CPU), {w * 1000:,.0f} ms warm (best of 3) |"
         for name, (c, w, cpu) in results.items()] + [
        f"| one call at a time: `record_calls` of a one-row frame (a write each) | {t_rbr / n * 1e3:.1f} ms/call |",
        f"| one call at a time: `LedgerWriter.add` (spooled + fsync), then one flush of {n} rows "
        f"| {t_add / n * 1e3:.2f} ms/call + {t_flush:.2f} s |",
        f"| cold start, fresh process: import + extensions + attach + first query (3 runs) "
        f"| {statistics.median(cold_lake):.2f} s median ({', '.join(f'{x:.2f}' for x in cold_lake)}) |",
        f"| cold start, plain DuckDB file: import + open + first query (3 runs) "
        f"| {statistics.median(cold_plain):.2f} s median ({', '.join(f'{x:.2f}' for x in cold_plain)}) |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.record:
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write(text)
    if not args.keep:
        csv_path.unlink(missing_ok=True)
        plain_path.unlink(missing_ok=True)
        shutil.rmtree(lake_path, ignore_errors=True)


if __name__ == "__main__":
    main()

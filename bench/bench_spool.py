"""The gateway's write path: ``LedgerWriter.add`` latency and many-process throughput.

    python -m bench.bench_spool [--processes 2] [--threads 8] [--seconds 10] [--store URL]
    python -m bench.bench_spool --seconds 60 --import-rows 2000000   # + a CLI import at once

Each process opens the workspace, starts a ``LedgerWriter`` (background flusher) and runs
``--threads`` threads that each add one call at a time (what a gateway worker does per request)
for ``--seconds``; then closes the writer (final flush). Reported: calls acknowledged per second
(all processes), ``add`` latency p50/p99 (spool append + fsync, shared by concurrent threads),
the time from the last acknowledgement until every row was in the ledger, and a check that the
ledger holds exactly the acknowledged rows. With ``--import-rows N``, ``python -m core ledger
import`` of an N-row CSV runs at the same time, and this process reads the Spend page's queries
in a loop meanwhile (the console): the ledger must then hold the acknowledged rows and the N
imported ones, each once. Reference in the same run: the same calls written with
``record_calls`` (one write per call) by one thread for a few seconds. Prints a Markdown
section with the load average; ``--record`` appends it to bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time

from core.settings import REPO_ROOT as ROOT

OUT = ROOT / "bench" / "out"


def worker(prefix: str, threads: int, seconds: float) -> None:
    from core.spend.writer import LedgerWriter
    from core.workspace import open_workspace

    ws = open_workspace()
    writer = LedgerWriter(ws)
    lat: list[float] = []
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def run(t: int) -> None:
        i = 0
        while time.monotonic() < stop:
            row = {"call_id": f"{prefix}-{t}-{i}", "ts": dt.datetime.now(dt.UTC), "model": "m",
                   "provider": "openai", "task": "t", "cost_usd": 0.0001, "input_tokens": 100,
                   "output_tokens": 20}
            s = time.perf_counter()
            writer.add([row])
            lat.append(time.perf_counter() - s)
            i += 1
        counts[t] = i

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    acked_at = time.monotonic()
    writer.close()
    drained = time.monotonic() - acked_at
    lat.sort()
    print(json.dumps({"acked": sum(counts), "p50_ms": lat[len(lat) // 2] * 1e3,
                      "p99_ms": lat[int(len(lat) * 0.99)] * 1e3, "drain_s": drained,
                      "left": writer.spool.backlog()["rows"]}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--store", help="a postgresql:// team store (default: an embedded one in bench/out)")
    ap.add_argument("--import-rows", type=int, default=0, help="a concurrent CLI import of this many rows")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), float(args.worker[2]))
        return
    import pandas as pd

    from core.spend.ledger import record_calls
    from core.workspace import open_workspace

    load_before = os.getloadavg()
    target = args.store or str(OUT / "bench_spool_ws")
    if not args.store:
        shutil.rmtree(target, ignore_errors=True)
    env = {**os.environ, "TRADEOFF_STORE": target}
    os.environ["TRADEOFF_STORE"] = target
    ws = open_workspace()
    record_calls(ws, pd.DataFrame({"call_id": ["warm"], "ts": [pd.Timestamp("2026-01-01")],
                                   "model": ["m"], "cost_usd": [0.0]}))  # tables exist before the race
    importer = None
    if args.import_rows:
        from bench.bench_ledger import make_csv

        OUT.mkdir(parents=True, exist_ok=True)
        csv_path = OUT / f"spool_import_{args.import_rows}.csv"
        if not csv_path.exists():
            make_csv(csv_path, args.import_rows)
    procs = [subprocess.Popen([sys.executable, "-m", "bench.bench_spool", "--worker", f"p{p}",
                               str(args.threads), str(args.seconds)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, text=True) for p in range(args.processes)]
    if args.import_rows:
        t_import = time.perf_counter()
        importer = subprocess.Popen([sys.executable, "-m", "core", "ledger", "import", str(csv_path),
                                     "--format", "generic"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
    reads, read_times = 0, []
    if args.import_rows:  # the console: the Spend page's queries while everything writes
        from core.spend.queries import SpendFilter, spend_page_data

        while any(p.poll() is None for p in procs) or importer.poll() is None:
            s = time.perf_counter()
            spend_page_data(ws, SpendFilter(scope="all"))
            read_times.append(time.perf_counter() - s)
            reads += 1
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    import_note = ""
    if importer is not None:
        out, err = importer.communicate()
        assert importer.returncode == 0, err
        import_note = (f"{out.strip()} in {time.perf_counter() - t_import:.1f} s (CLI, alongside); "
                       f"Spend page read {reads} times meanwhile, median "
                       f"{sorted(read_times)[len(read_times) // 2]:.2f} s, max {max(read_times):.2f} s")
        csv_path.unlink(missing_ok=True)
    acked = sum(r["acked"] for r in results)
    in_ledger, distinct = ws.cursor().execute(
        "select count(*), count(distinct call_id) from ledger where call_id <> 'warm'").fetchone()
    assert in_ledger == distinct == acked + args.import_rows, (in_ledger, distinct, acked)

    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min(args.seconds, 5.0):
        record_calls(ws, pd.DataFrame({"call_id": [f"rc-{n}"], "ts": [pd.Timestamp.now()], "model": ["m"],
                                       "cost_usd": [0.0001]}))
        n += 1
    rc_rate = n / (time.perf_counter() - t0)
    ws.close()
    load_after = os.getloadavg()
    kind = "team (PostgreSQL catalog)" if args.store else "embedded (SQLite catalog)"
    text = "\n".join([
        f"\n## Gateway write path (issue 10): LedgerWriter, {kind}, {dt.date.today().isoformat()}",
        "",
        f"Machine: 2 cores shared with other jobs; load average {load_before[0]:.1f} at start, "
        f"{load_after[0]:.1f} at the end; `python -m bench.bench_spool --processes {args.processes} "
        f"--threads {args.threads} --seconds {args.seconds:g}{' --store ...' if args.store else ''}`.",
        "",
        "| measurement | result |",
        "|---|---|",
        f"| calls acknowledged (spooled + fsync), {args.processes} processes x {args.threads} threads, "
        f"one call per `add` | **{acked / args.seconds:,.0f} calls/s**; every one in the ledger once "
        f"({acked:,} rows) |",
        "| `add` latency per process, p50 / p99 | " + "; ".join(
            f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f} ms" for r in results) + " |",
        "| from the last acknowledgement to every row in the ledger (close: final flush) | "
        + "; ".join(f"{r['drain_s']:.2f} s" for r in results) + " |",
        f"| reference: `record_calls` of one call per write, one thread | {rc_rate:,.1f} calls/s |",
    ] + ([f"| at the same time: `python -m core ledger import` of {args.import_rows:,} rows | {import_note} |"]
         if import_note else [])) + "\n"
    print(text)
    if args.record:
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write(text)
    if not args.store:
        shutil.rmtree(target, ignore_errors=True)


if __name__ == "__main__":
    main()

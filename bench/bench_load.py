"""Bench: load_csv of a 1,000,000-row long CSV beside DuckDB's own typed read_csv of the same file.

    python -m bench.bench_load [--rounds 3]   # bench/out/long_1m.csv is made once (bench_leaderboard)

Both run in this process, alternating, so they share the machine's load; each figure is the best
of the rounds (wall and CPU), with the median beside it (on a shared machine the rounds swing). DuckDB's side is ``create table t as select * from read_csv(path)``:
the file read once, typed, into memory, which is the least any loader must do. The ratio
load_csv / DuckDB is the figure issue 13 item 21 aims at (<= 1.5). The load average is printed
before and after; record both in bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

from bench.bench_leaderboard import CSV, generate


def _duckdb_typed(path) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    con.execute("create table t as select * from read_csv(?)", [str(path)])
    con.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if not CSV.exists():
        generate()
    import duckdb

    from core.evaluation.loading import load_csv
    from core.pricing.catalog import default_catalog

    catalog = default_catalog()
    load_csv(_tiny(), catalog=catalog)  # imports and prices warmed outside the timing
    print(f"duckdb {duckdb.__version__}; {CSV.name}: {CSV.stat().st_size / 1e6:.0f} MB; "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    runs: dict[str, list[tuple[float, float]]] = {"duckdb": [], "load_csv": []}
    for _ in range(args.rounds):
        for name, run in (("duckdb", lambda: _duckdb_typed(CSV)),
                          ("load_csv", lambda: load_csv(CSV, catalog=catalog))):
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"  {name:9s} wall {wall:6.2f} s  cpu {cpu:6.2f} s")
            runs[name].append((wall, cpu))
    for summary, pick in (("best", min), ("median", statistics.median)):
        (dw, dc), (lw, lc) = ([pick(r[k] for r in runs[name]) for k in (0, 1)]
                              for name in ("duckdb", "load_csv"))
        print(f"{summary} of {args.rounds}: DuckDB typed read_csv {dw:.2f} s wall / {dc:.2f} s CPU;"
              f" load_csv {lw:.2f} s wall / {lc:.2f} s CPU; ratio {lw / dw:.2f}x wall,"
              f" {lc / dc:.2f}x CPU")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _tiny() -> bytes:
    return b"item_id,model,score,cost_usd\n1,a,1,0.1\n"


if __name__ == "__main__":
    main()

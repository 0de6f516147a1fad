"""Wide (RouterBench-layout) eval sets with many models: load time and peak memory by width.

    python -m bench.bench_wide                      # 250, 1,000 and 10,000 models
    python -m bench.bench_wide --models 250 1000    # some widths only
    python -m bench.bench_wide --timeout 300        # give up on a width after 300 s

Each file has 40 items and, per model ``M``, the columns ``M`` (score), ``M|model_response``
and ``M|total_cost`` (10,000 models: 30,001 columns, about 4 MB). Every width is loaded with
``core.evaluation.loading.load_csv`` in a fresh process (peak RSS is that process's
``ru_maxrss``), next to the reference of the same run: DuckDB reading the same file with every
cell as text (``read_csv(all_varchar=true)``), the least any loader has to do. The ratio
load / reference is what to compare across machines; the load average is printed beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from core.settings import REPO_ROOT

OUT = REPO_ROOT / "bench" / "out"
ITEMS = 40


def make_wide(path: Path, models: int, items: int = ITEMS) -> None:
    names = [f"vendor/model-{j:05d}" for j in range(models)]
    header = ["sample_id", "prompt", "eval_name"]
    for name in names:
        header += [name, f"{name}|model_response", f"{name}|total_cost"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(header) + "\n")
        for i in range(items):
            row = [f"s{i}", f"['Question {i}?']", "arc"]
            for j in range(models):
                row += [str((i + j) % 2), "['A']" if (i + j) % 2 else "['B']",
                        f"{(j % 97 + 1) * 1e-6:.7f}"]
            fh.write(",".join(row) + "\n")


def _measure(kind: str, path: str) -> dict:
    """Run in a fresh process: load the file one way, report wall time and peak RSS."""
    import resource

    import duckdb

    from core.evaluation.loading import load_csv

    start = time.perf_counter()  # imports apart: they are the same for every width
    if kind == "load_csv":
        evalset = load_csv(path)
        shape = list(evalset.score.shape)
    else:
        con = duckdb.connect()
        con.execute("set enable_progress_bar = false")
        # executed and fetched whole: a relation's .arrow() streams small batches (DuckDB 1.5)
        table = con.execute("select * from read_csv(?, all_varchar=true, header=true)",
                            [str(path)]).to_arrow_table()
        shape = [table.num_rows, table.num_columns]
    wall = time.perf_counter() - start
    return {"wall_s": wall, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "shape": shape}


def measure(kind: str, path: Path, timeout: float) -> dict | None:
    code = ("import json, sys; from bench.bench_wide import _measure; "
            f"print('RESULT', json.dumps(_measure({kind!r}, {str(path)!r})))")
    try:
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[250, 1000, 10000])
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"Load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; {ITEMS} items per file\n")
    print("| models | columns | file | load_csv wall | load_csv peak RSS | DuckDB text read "
          "(reference) | ratio |")
    print("|---|---|---|---|---|---|---|")
    for models in args.models:
        path = OUT / f"wide_{models}.csv"
        if not path.exists():
            make_wide(path, models)
        ref = measure("reference", path, args.timeout)
        got = measure("load_csv", path, args.timeout)
        size = f"{path.stat().st_size / 1e6:.1f} MB"
        ref_text = f"{ref['wall_s']:.2f} s" if ref else f"> {args.timeout:g} s"
        if got is None:
            print(f"| {models:,} | {3 * models + 3:,} | {size} | > {args.timeout:g} s (stopped) "
                  f"| - | {ref_text} | - |", flush=True)
            continue
        ratio = f"{got['wall_s'] / ref['wall_s']:.1f}x" if ref else "-"
        print(f"| {models:,} | {3 * models + 3:,} | {size} | {got['wall_s']:.2f} s "
              f"| {got['rss_mb']:,.0f} MB | {ref_text} | {ratio} |", flush=True)
    load = os.getloadavg()
    print(f"\nLoad average after: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")


if __name__ == "__main__":
    main()

"""Frontier and slider-rerun speed (core.routing.frontier, core.routing.policies.cascade).

    python -m bench.bench_frontier            # prints a markdown table
    python -m bench.bench_frontier --append   # also appends it to bench/RESULTS.md

Measures (best of ``--repeat`` runs, synthetic eval sets from tests/helpers/routing.py):
1. the full frontier of a 3-model cascade on 1,000,000 items, with confidence given at 101
   levels (every distinct threshold pair: 10,404 points) and continuous (1,000 x 1,000 candidate
   thresholds: 1,002,001 points, each exact);
2. the 2-model frontier on 1,000,000 items (every distinct threshold);
3. a slider rerun on 100,000 items: ``point_summary`` = Cascade evaluation at new thresholds +
   quality, cost, escalation, shares, p50/p95/p99 latency, savings;
4. the naive way: one Cascade.evaluate per threshold, timed on a subset of points and
   extrapolated to every point.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import time

import numpy as np

from core.routing.frontier import cascade_frontier, point_summary
from core.routing.policies import Cascade
from core.settings import REPO_ROOT as ROOT
from tests.helpers.routing import synthetic_evalset


def best_of(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def naive_per_point(evalset, models, points, sample: int) -> float:
    """Seconds per operating point when each one is a full Cascade.evaluate + metrics."""
    rows = np.linspace(0, len(points) - 1, sample).astype(int)
    cols = [c for c in points.columns if c.startswith("t")]
    t = time.perf_counter()
    for r in rows:
        out = Cascade(models, [points[c].iloc[r] for c in cols]).evaluate(evalset)
        out.quality, out.cost_per_item  # noqa: B018  (the metrics a frontier point needs)
    return (time.perf_counter() - t) / sample


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--append", action="store_true")
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []
    models3 = ["m0", "m1", "m2"]

    es = synthetic_evalset(1_000_000, 3, seed=1, levels=101)
    sec, fr = best_of(lambda: cascade_frontier(es, models3, "confidence"), args.repeat)
    rows.append((f"3-model frontier, 1,000,000 items, 101-level confidence "
                 f"({len(fr.points):,} points, exhaustive={fr.exhaustive})", f"{sec * 1000:,.0f} ms"))
    naive = naive_per_point(es, models3, fr.points, 5)
    rows.append(("naive: one Cascade.evaluate per point, same set (5 points timed, extrapolated)",
                 f"{naive * 1000:,.0f} ms/point × {len(fr.points):,} = {naive * len(fr.points):,.0f} s"))

    es_c = synthetic_evalset(1_000_000, 3, seed=2)
    sec, fr_c = best_of(lambda: cascade_frontier(es_c, models3, "confidence"), args.repeat)
    rows.append((f"3-model frontier, 1,000,000 items, continuous confidence "
                 f"({len(fr_c.points):,} points, exhaustive={fr_c.exhaustive})", f"{sec * 1000:,.0f} ms"))
    rows.append(("naive for those points (extrapolated from the line above)",
                 f"{naive * len(fr_c.points) / 3600:,.1f} h"))

    es2 = synthetic_evalset(1_000_000, 2, seed=3)
    sec, fr2 = best_of(lambda: cascade_frontier(es2, ["m0", "m1"], "confidence"), args.repeat)
    rows.append((f"2-model frontier, 1,000,000 items, continuous ({len(fr2.points):,} points)",
                 f"{sec * 1000:,.0f} ms"))

    es_s = synthetic_evalset(100_000, 3, seed=4, levels=101)
    fr_s = cascade_frontier(es_s, models3, "confidence")
    point_summary(fr_s, [0.5, 0.5])  # warm
    grid = np.random.default_rng(0).random((20, 2))
    t = time.perf_counter()
    for thresholds in grid:
        point_summary(fr_s, list(thresholds))
    per_move = (time.perf_counter() - t) / len(grid)
    rows.append(("slider rerun, 100,000 items, 3 models: point_summary (evaluate + all metrics), "
                 "mean of 20 moves", f"{per_move * 1000:,.1f} ms"))
    sec, _ = best_of(lambda: cascade_frontier(es_s, models3, "confidence"), args.repeat)
    rows.append(("frontier for the slider page, 100,000 items (cached once per configuration)",
                 f"{sec * 1000:,.0f} ms"))

    load = os.getloadavg()[0]
    table = ["| measurement | result |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    text = (f"\n## Cascade frontier and slider (core.routing.frontier) — {dt.date.today()}, machine = 2 cores "
            f"(shared; 1-min load average {load:.1f} when measured)\n\n"
            f"Command: `python -m bench.bench_frontier --repeat {args.repeat}` (best of "
            f"{args.repeat}; synthetic sets from tests/helpers/routing.py)\n\n" + "\n".join(table) + "\n")
    print(text)
    if args.append:
        with open(ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()

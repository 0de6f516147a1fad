"""Benchmark: pricing 1,000,000 calls from tokens, building the catalog table, loading the sample.

    python -m bench.bench_pricing

Prints one line per measurement; results are recorded in bench/RESULTS.md (section "Prices").
"""
from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np


def timed(label: str, fn, repeat: int = 3):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    print(f"{label}: {best * 1000:.1f} ms (best of {repeat})")
    return result


def main() -> None:
    from core.evaluation.loading import load_csv
    from core.pricing import catalog as pricing

    cat = pricing.default_catalog()

    n = 1_000_000
    rng = np.random.default_rng(0)
    inp = rng.integers(100, 300_000, n).astype(float)
    out = rng.integers(1, 4_000, n).astype(float)
    cached = np.floor(inp * rng.uniform(0, 0.8, n))
    timed("first price lookup (imports genai-prices data)", lambda: cat.price_for("gpt-4o-mini"), repeat=1)
    timed(f"Catalog.cost, {n:,} calls, flat prices (gpt-4o-mini)",
          lambda: cat.cost("gpt-4o-mini", inp, out, cached))
    timed(f"Catalog.cost, {n:,} calls, tiered prices (claude-sonnet-4-5)",
          lambda: cat.cost("claude-sonnet-4-5", inp, out, cached))
    tracemalloc.start()
    cat.cost("claude-sonnet-4-5", inp, out, cached)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"Catalog.cost peak extra memory for {n:,} calls: {peak / 1e6:.0f} MB")
    pricing._genai_frame.cache_clear()
    timed("Catalog.frame, cold (all genai-prices models)", cat.frame, repeat=1)
    timed("Catalog.frame, warm", cat.frame)
    sample = Path(__file__).resolve().parent.parent / "data" / "sample_evalset.csv"
    es = timed("load_csv(sample_evalset.csv) incl. catalog pricing", lambda: load_csv(sample))
    print(f"  ({es.n_items:,} items x {es.n_models} models)")


if __name__ == "__main__":
    main()

"""Benchmark of A/B replay, shadow comparison, assignment and memos (core.experiments.store).

    python -m bench.bench_experiments          # prints a markdown table (best of 3 per row)

A synthetic eval set (seeded numpy, 2 models + a cascade over them) of N items is replayed as
an A/B (both policies evaluated, assignment, per-arm stats, p95 bootstrap, rollout stages),
compared in shadow (paired stats, disagreements) and written as HTML and PDF memos.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from core.evaluation.evalset import from_long_frame
from core.experiments.assignment import unit_buckets
from core.experiments.memo import memo_html, memo_pdf
from core.experiments.store import ab_definition, run_ab, run_shadow, shadow_definition
from core.routing.policies import Cascade, SingleModel


def synthetic(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    big = (rng.random(n) < 0.92).astype(float)
    small = np.where(rng.random(n) < 0.85, big, 1 - big)
    conf = np.clip(np.where(small == big, 0.8, 0.5) + rng.normal(0, 0.15, n), 0, 1)
    frame = pd.DataFrame({
        "idx": np.r_[np.arange(n), np.arange(n)],
        "model": ["big"] * n + ["small"] * n,
        "score": np.r_[big, small],
        "confidence": np.r_[np.full(n, 0.99), conf],
        "cost_usd": np.r_[np.full(n, 0.01), np.full(n, 0.001)],
        "latency_ms": np.r_[rng.gamma(4, 250, n), rng.gamma(4, 80, n)],
        "prediction": np.r_[np.where(big == 1, "yes", "no"), np.where(small == 1, "yes", "no")],
    })
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(n)],
                          "task": np.array(["billing", "triage", "sales"])[np.arange(n) % 3],
                          "user": [f"u{i % max(n // 5, 1)}" for i in range(n)]})
    return from_long_frame(frame, items, name=f"bench-{n}")


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) * 1000


def main() -> None:
    rows = []
    for n in (100_000, 1_000_000):
        units = [f"user-{i}" for i in range(n)]
        rows.append((f"`unit_buckets`, {n:,} distinct units (SHA-256 each)", best_of(lambda: unit_buckets(units, "s"))))
    control, candidate = SingleModel("big"), Cascade(["small", "big"], [0.7], "confidence")
    for n in (10_000, 100_000):
        es = synthetic(n)
        res = {}
        rows.append((f"`run_ab` replay, {n:,} items (2 policies, stats, p95 bootstrap, 4 rollout stages)",
                     best_of(lambda: res.setdefault("ab", run_ab(es, control, candidate, name="b")))))
        rows.append((f"`run_ab`, {n:,} items, unit = user ({n // 5:,} users)",
                     best_of(lambda: run_ab(es, control, candidate, name="b", unit_column="user"))))
        rows.append((f"`run_shadow` (no ledger), {n:,} items",
                     best_of(lambda: res.setdefault("sh", run_shadow(es, control, candidate, volume=1e6)))))
        if n == 10_000:
            record = {"name": "b", "kind": "ab", "definition": ab_definition(es, control, candidate, name="b"),
                      "results": res["ab"].to_dict()}
            rows.append(("memo HTML (A/B)", best_of(lambda: memo_html(record))))
            rows.append(("memo PDF (A/B, with matplotlib chart)", best_of(lambda: memo_pdf(record))))
            sh = res["sh"][0]
            srec = {"name": "b", "kind": "shadow", "results": sh.to_dict(),
                    "definition": shadow_definition(es, control, candidate, name="b", volume=1e6)}
            rows.append(("memo PDF (shadow)", best_of(lambda: memo_pdf(srec))))
            print(f"(A/B verdict on {n:,} synthetic items: {res['ab'].verdict.decision})", file=sys.stderr)
    print("| measurement | best of 3 |\n|---|---|")
    for label, ms in rows:
        print(f"| {label} | {ms:,.0f} ms |")


if __name__ == "__main__":
    main()

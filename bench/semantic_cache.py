"""The semantic cache's false hits on real questions, per threshold: wordllama (the cache's rule)
beside the character n-gram TF-IDF it replaced.

    python -m bench.semantic_cache            # markdown rows for bench/RESULTS.md

Items arrive in file order, the train and the test file each a stream of its own, grouped by task
as the live cache groups them; a hit reuses the most similar earlier question's answer
(:func:`core.live.cache.semantic_cache_error_rates`). A false hit:

* ARC-Challenge (RouterBench, 1,484 questions): the neighbour's right option (what the models
  scored right concluded) differs from the item's;
* MMLU (RouteLLM, 14,042 questions, 57 subjects): the file holds no answers, so any hit on
  another question counts as false (an upper bound).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pandas as pd

from core.evaluation.loading import load_csv
from core.live import cache

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "acceptance"
THRESHOLDS = [0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99, 1.0]


def tfidf_nearest(inputs, groups=None, chunk=None):
    """The replaced rule: character 3-5-gram TF-IDF cosine, the most similar earlier input."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(inputs)
    m = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform(inputs)
    g = np.zeros(n, dtype=np.int64) if groups is None else pd.factorize(groups)[0]
    nearest, best = np.full(n, -1), np.zeros(n)
    step = max(1, min(1024, 5_000_000 // n))
    for s in range(0, n, step):
        e = min(n, s + step)
        sims = (m[s:e] @ m[:e].T).toarray()
        ok = (np.arange(e)[None, :] < np.arange(s, e)[:, None]) & (g[s:e, None] == g[None, :e])
        sims = np.where(ok, sims, -np.inf)
        a = sims.argmax(axis=1)
        v = sims[np.arange(e - s), a]
        nearest[s:e] = np.where(np.isfinite(v), a, -1)
        best[s:e] = np.where(np.isfinite(v), v, 0.0)
    return nearest, best


def sets():
    arc = [load_csv(DATA / "routerbench" / f"arc_challenge_{p}.csv") for p in ("train", "test")]
    yield "ARC-Challenge", arc, "answers"
    mmlu = [load_csv(DATA / "routellm" / f"mmlu_{p}.csv") for p in ("train", "test")]
    yield "MMLU", mmlu, "question"


def main() -> None:
    print("| set | rule | truth | " + " | ".join(f"{t:g}" for t in THRESHOLDS) + " | s | load avg |")
    print("|---|---|---|" + "---|" * len(THRESHOLDS) + "---|---|")
    for name, parts, truth in sets():
        for rule, finder in (("wordllama", cache.nearest_previous), ("char TF-IDF (old)", tfidf_nearest)):
            load0, wall = os.getloadavg()[0], time.perf_counter()
            with patch.object(cache, "nearest_previous", finder):
                rows = [cache.semantic_cache_error_rates(es, THRESHOLDS, truth=truth) for es in parts]
            wall = time.perf_counter() - wall
            hits = sum(r["hits"].to_numpy() for r in rows)
            wrong = sum(r["wrong"].to_numpy() for r in rows)
            n = sum(int(r["items"].iloc[0]) for r in rows)
            cells = [f"{h / max(n, 1):.1%} hit, {w / h:.0%} false" if h else "0 hits" for h, w in zip(hits, wrong)]
            load = (load0 + os.getloadavg()[0]) / 2
            print(f"| {name} | {rule} | {truth} | " + " | ".join(cells) + f" | {wall:.1f} | {load:.1f} |")


if __name__ == "__main__":
    main()

"""Random eval sets for routing tests and benchmarks (seeded, so every run sees the same data)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.evaluation.evalset import EvalSet


def synthetic_evalset(n: int, m: int = 3, seed: int = 0, levels: int | None = None,
                      nan_frac: float = 0.0, latency: bool = True, tasks=("a", "b", "c")) -> EvalSet:
    """``m`` models from weak/cheap/fast to strong/dear/slow; confidence loosely tracks
    correctness; ``levels`` rounds confidence to that many values (as verbalized confidence is);
    ``nan_frac`` blanks that share of scores and costs."""
    rng = np.random.default_rng(seed)
    models = tuple(f"m{j}" for j in range(m))
    skill = np.linspace(0.5, 0.9, m)
    score = (rng.random((n, m)) < skill).astype(float)
    conf = np.clip(score * 0.3 + rng.random((n, m)) * 0.7, 0, 1)
    if levels:
        conf = np.round(conf * (levels - 1)) / (levels - 1)
    cost = np.geomspace(1e-4, 1e-2, m)[None, :] * (0.5 + rng.random((n, m)))
    lat = (np.linspace(200, 2000, m)[None, :] * (0.5 + rng.random((n, m))) if latency
           else np.full((n, m), np.nan))
    if nan_frac:
        score[rng.random((n, m)) < nan_frac] = np.nan
        cost[rng.random((n, m)) < nan_frac] = np.nan
    items = pd.DataFrame({"item_id": np.arange(n).astype(str), "task": rng.choice(list(tasks), n)})
    empty = np.full((n, m), np.nan)
    pred = rng.choice(np.array(["x", "y", "z"], dtype=object), (n, m))
    return EvalSet(f"synthetic-{n}x{m}-seed{seed}", items, models, score, cost, lat, conf,
                   empty, empty.copy(), empty.copy(), pred, np.full((n, m), None, dtype=object))

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


# -- the hand-computed 4-item set of tests/unit/test_policies.py ---------------------------
COST = {"small": 0.001, "mid": 0.004, "big": 0.010}
LAT = {"small": 100, "mid": 300, "big": 1000}
ROWS = {  # item: (task, value, label, {model: (pred, score, conf)})
    "i1": ("billing", 10, "A", {"small": ("A", 1, .9), "mid": ("A", 1, .8), "big": ("A", 1, .95)}),
    "i2": ("billing", 500, "B", {"small": ("C", 0, .6), "mid": ("B", 1, .7), "big": ("B", 1, .9)}),
    "i3": ("legal", 50, "A", {"small": ("B", 0, .3), "mid": ("B", 0, .4), "big": ("A", 1, .9)}),
    "i4": ("legal", 2000, "D", {"small": ("D", 1, .5), "mid": ("C", 0, .9), "big": ("C", 0, .8)}),
}


def tiny_csv() -> bytes:
    lines = ["item_id,model,task,value_usd,label,prediction,score,confidence,cost_usd,latency_ms"]
    for item, (task, value, label, answers) in ROWS.items():
        for model, (pred, score, conf) in answers.items():
            lines.append(f"{item},{model},{task},{value},{label},{pred},{score},{conf},"
                         f"{COST[model]},{LAT[model]}")
    return ("\n".join(lines) + "\n").encode()

"""Bench: load a 1,000,000-row long CSV (100k items × 10 models) and compute the leaderboard.

    python -m bench.bench_leaderboard            # generates bench/out/long_1m.csv once, then times
    python -m bench.bench_leaderboard --upload   # 2M rows (~210 MB) as bytes, like a page upload

Each measurement runs in a fresh Python process so peak memory (ru_maxrss) belongs to it alone.
Results are printed; append them to bench/RESULTS.md by hand with the date and the machine.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from core.settings import REPO_ROOT as ROOT

OUT = ROOT / "bench" / "out"
CSV = OUT / "long_1m.csv"
N_ITEMS, N_MODELS = 100_000, 10


def generate(path: Path = CSV, n_items: int = N_ITEMS, n_models: int = N_MODELS, seed: int = 7) -> Path:
    """A seeded synthetic long eval set with every column the loader knows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    labels = np.array(["billing", "account", "bug", "sales", "other"], dtype=object)
    tasks = np.array(["triage", "intent", "lead"], dtype=object)
    item_label = rng.integers(0, len(labels), n_items)
    skill = np.linspace(0.55, 0.95, n_models)
    n = n_items * n_models
    item = np.repeat(np.arange(n_items), n_models)
    model = np.tile(np.arange(n_models), n_items)
    correct = rng.random(n) < skill[model]
    wrong = (item_label[item] + rng.integers(1, len(labels), n)) % len(labels)
    pred = np.where(correct, item_label[item], wrong)
    score = correct.astype(float)
    score[rng.random(n) < 0.01] = np.nan  # 1% unscored
    price = np.geomspace(0.0001, 0.02, n_models)
    table = pa.table({
        "item_id": pa.array(np.char.add("item-", np.arange(n_items).astype(str))[item]),
        "model": pa.array(np.char.add("model-", np.arange(n_models).astype(str))[model]),
        "input": pa.array(np.char.add("Customer message number ", np.arange(n_items).astype(str))[item]),
        "task": pa.array(tasks[item % len(tasks)].astype(str)),
        "label": pa.array(labels[item_label[item]].astype(str)),
        "prediction": pa.array(labels[pred].astype(str)),
        "score": pa.array(score, from_pandas=True),
        "confidence": pa.array(np.round(rng.beta(5, 2, n), 3)),
        "cost_usd": pa.array(np.round(price[model] * rng.lognormal(0, 0.3, n), 8)),
        "latency_ms": pa.array(np.round(rng.lognormal(6, 0.5, n) * (1 + model / 5), 1)),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path)
    return path


def measure(path: Path, as_upload: bool = False) -> dict:
    """Run in this process: time load_csv and leaderboard, report peak RSS.

    ``as_upload`` reads the file into bytes first, as a Streamlit upload arrives."""
    import resource
    t0 = time.perf_counter()
    # The libraries metrics imports lazily are imported once per app server: time them apart.
    import scipy.stats  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import statsmodels.stats.proportion  # noqa: F401

    from core.evaluation.loading import load_csv
    from core.evaluation.metrics import leaderboard

    t1, c1 = time.perf_counter(), time.process_time()
    evalset = load_csv(path.read_bytes(), name=path.name) if as_upload else load_csv(path)
    t2 = time.perf_counter()
    board = leaderboard(evalset)
    t3, c3 = time.perf_counter(), time.process_time()
    return {
        "rows": int(evalset.n_items * evalset.n_models), "items": evalset.n_items,
        "models": evalset.n_models, "import_s": round(t1 - t0, 2), "load_s": round(t2 - t1, 2),
        "leaderboard_s": round(t3 - t2, 2), "total_s": round(t3 - t1, 2),
        "cpu_s": round(c3 - c1, 2),  # all threads; wall time inflates when the 2 cores are shared
        "load_avg_1m": round(os.getloadavg()[0], 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "best": board.iloc[0][["model", "quality"]].to_dict(),
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--measure":
        print(json.dumps(measure(Path(sys.argv[2]), as_upload="--upload" in sys.argv)))
        return
    # --upload: a 2,000,000-row file (~210 MB) passed as bytes, like the page's upload
    upload = "--upload" in sys.argv
    path = OUT / "long_2m.csv" if upload else CSV
    if not path.exists():
        t = time.perf_counter()
        generate(path, n_items=2 * N_ITEMS if upload else N_ITEMS)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s")
    done = subprocess.run([sys.executable, __file__, "--measure", str(path)] + (["--upload"] if upload else []),
                          capture_output=True, text=True, check=True, env=dict(os.environ))
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["file_mb"] = round(path.stat().st_size / 1e6, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

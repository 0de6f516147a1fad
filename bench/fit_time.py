"""`fit` time on MMLU (7,021 training items, 14,042 with test): this checkout beside an older one,
in the same run.

    git worktree add --detach /tmp/oldfit <commit>      # e.g. the store branch before router v2
    python -m bench.fit_time /tmp/oldfit [rounds]       # markdown rows for bench/RESULTS.md

Each fit runs in a fresh Python process started in its checkout (so each imports its own
``core``), old and new alternating, ``rounds`` times each (default 2): RouteLLM's MMLU training
split without its ``task`` column, goal 95% of gpt-4's training quality, as
``bench.router_acceptance``. Only ``recommend`` is timed (loading the CSV is not); CPU seconds
are the child's own, the load average is the mean of the 1-minute figure before and after (the
machine is shared: wall time follows the load, CPU time much less). The held-out estimate is
printed so a speed-up that changed the plan shows.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "acceptance" / "routellm"
HERE = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, tempfile, time
from pathlib import Path
import pandas as pd
from core.evaluation.loading import load_csv
from core.routing.optimize.search import recommend
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "mmlu_train.csv"
    pd.read_csv(sys.argv[1]).drop(columns=["task"]).to_csv(path, index=False)
    train = load_csv(path)
target = 0.95 * train.model_stats.loc["gpt-4-1106-preview", "quality"]
cpu, wall = time.process_time(), time.perf_counter()
rec = recommend(train, f"quality>={target:.6f}")
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
cv = getattr(rec, "cv", None) or {}
print(json.dumps({"cpu": cpu, "wall": wall, "family": rec.family,
                  "quality": cv.get("quality", rec.held_out.get("quality")),
                  "cost_ratio": rec.baseline.get("cost_ratio")}))
"""


def fit_once(checkout: Path) -> dict:
    load0 = os.getloadavg()[0]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(DATA / "mmlu_train.csv")], cwd=checkout,
                          env=env, capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["load"] = (load0 + os.getloadavg()[0]) / 2
    return out


def main(old: str, rounds: int = 2) -> None:
    print("| checkout | commit | fit CPU s | fit wall s | load avg | estimate | cost vs gpt-4 |")
    print("|---|---|---|---|---|---|---|")
    checkouts = [("old", Path(old).resolve()), ("new", HERE)]
    for _ in range(rounds):
        for label, path in checkouts:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=path, capture_output=True,
                                    text=True).stdout.strip()
            r = fit_once(path)
            print(f"| {label} | {commit} | {r['cpu']:.1f} | {r['wall']:.1f} | {r['load']:.1f} | "
                  f"{r['quality']:.4f} | {r['cost_ratio']:.3f}x |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2)

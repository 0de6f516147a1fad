"""Router v2 on real data: fit on train, score once on test; fit time beside the load.

    python -m bench.router_acceptance [arc|mmlu ...]     # markdown rows for bench/RESULTS.md

ARC: RouterBench ARC-Challenge, goal ``match:gpt-4-1106-preview``. MMLU: RouteLLM's MMLU
without its ``task`` column, goal 95% of gpt-4's training quality. Each row: the stored held-out
estimate (95% interval), the test figure, gpt-4 alone, the random-mix line and the oracle on
test, the fit's CPU and wall seconds and the load average while it ran (the machine is shared:
wall time depends on it, CPU time far less).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from core.evaluation.loading import load_csv
from core.routing.optimize.search import oracle_figures, random_mix_line, recommend
from core.routing.policies import SingleModel

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "acceptance"
GPT4 = "gpt-4-1106-preview"


def sets(names):
    if "arc" in names:
        d = DATA / "routerbench"
        yield "ARC", load_csv(d / "arc_challenge_train.csv"), load_csv(d / "arc_challenge_test.csv"), None
    if "mmlu" in names:
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for part in ("train", "test"):
                frame = pd.read_csv(DATA / "routellm" / f"mmlu_{part}.csv").drop(columns=["task"])
                paths.append(Path(tmp) / f"mmlu_{part}.csv")
                frame.to_csv(paths[-1], index=False)
            train, test = load_csv(paths[0]), load_csv(paths[1])
            yield "MMLU (no task)", train, test, 0.95 * train.model_stats.loc[GPT4, "quality"]


def main(names) -> None:
    print("| set | goal | estimate (95%) | test quality / cost vs gpt-4 | gpt-4 test | random mix at "
          "that cost | oracle | fit CPU s / wall s | load avg |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, train, test, target in sets(names):
        goal = f"match:{GPT4}" if target is None else f"quality>={target:.6f}"
        load0 = os.getloadavg()[0]
        cpu, wall = time.process_time(), time.perf_counter()
        rec = recommend(train, goal)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        load = (load0 + os.getloadavg()[0]) / 2
        out, ref = rec.policy.evaluate(test), SingleModel(GPT4).evaluate(test)
        mix = random_mix_line(test, out.quality, out.cost_per_item)["quality_at_cost"]
        oracle = oracle_figures(test)
        cv = rec.cv
        print(f"| {name} | `{goal}` | {cv['quality']:.4f} [{cv['quality_ci'][0]:.4f}, {cv['quality_ci'][1]:.4f}] "
              f"at {cv['cost_per_item'] / rec.baseline['cost_per_item']:.3f}x | {out.quality:.4f} / "
              f"{out.cost_per_item / ref.cost_per_item:.3f}x | {ref.quality:.4f} | {mix:.4f} | "
              f"{oracle['quality']:.3f} at {oracle['cost_per_item'] / ref.cost_per_item:.3f}x | "
              f"{cpu:.1f} / {wall:.1f} | {load:.1f} |")
        print(f"<!-- {name}: {rec.family} -->")


if __name__ == "__main__":
    main(sys.argv[1:] or ["arc", "mmlu"])

"""The live runner at scale: 2,000 calls answering in 100 ms, at concurrency 32.

Ideal wall time = calls × latency / concurrency = 2000 × 0.1 / 32 = 6.25 s. Two measurements:

- ``runner``: the whole runner (prompt templates, retries/breaker/bucket bookkeeping, parsing,
  pricing, cache lookups, bulk writes of run_calls + ledger + cache every 0.5 s, the EvalSet at the
  end) over an in-process provider that sleeps 100 ms: the runner's own overhead;
- ``sdk``: the same run through the real OpenAI SDK over HTTP to ``tests/helpers/fake_llm_server.py``
  (its own process, 100 ms latency): what a user gets on this machine.

Overhead per call = wall × concurrency / calls − latency (the time a call slot is busy beyond the
provider's answer). CPU per call = process CPU / calls.

Run: ``python -m bench.bench_runner [--calls 2000] [--concurrency 32] [--only runner|sdk]``
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from core.evaluation.loading import load_csv
from core.live.providers.base import ChatResponse, Provider
from core.live.run import LiveRun, RunConfig
from core.settings import REPO_ROOT as ROOT
from core.workspace import Workspace

LATENCY = 0.1


class SleepingProvider(Provider):
    """Answers like GPT in JSON mode after ``LATENCY`` seconds, without any network."""

    name = "openai"

    async def complete(self, request):
        await asyncio.sleep(LATENCY)
        label = request.user.rsplit("answer: ", 1)[-1]
        return ChatResponse(text=json.dumps({"label": label, "confidence": 0.9}),
                            input_tokens=60, output_tokens=12, latency_ms=LATENCY * 1000,
                            request_id="bench")


def inputs(n: int):
    labels = ["A", "B", "C", "D"]
    frame = pd.DataFrame({"item_id": [f"i{i}" for i in range(n)],
                          "input": [f"Question {i}: which option? answer: {labels[i % 4]}" for i in range(n)],
                          "label": [labels[i % 4] for i in range(n)], "task": "mcq"})
    return load_csv(frame.to_csv(index=False).encode(), name="bench.csv")


def measure(mode: str, calls: int, concurrency: int, base_urls: dict | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "bench.duckdb")
        kw = {}
        if mode == "runner":
            kw["provider_factory"] = lambda name: SleepingProvider()
        else:
            kw["keys"] = {"openai": "sk-bench-123456"}
            kw["base_urls"] = base_urls
        model = "openai:gpt-4o-mini" if mode == "runner" else "openai:gpt-4o-mini-lat100ms"
        run = LiveRun(ws, inputs(calls), [model], RunConfig(concurrency=concurrency), **kw)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = run.run()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        ok = result.progress.ok
        ledger = ws.cursor().execute("select count(*) from ledger").fetchall()[0][0]
        ws.close()
    ideal = calls * LATENCY / concurrency
    return {"mode": mode, "calls": calls, "ok": ok, "ledger_rows": ledger, "wall_s": wall,
            "ideal_s": ideal, "ratio": wall / ideal,
            "overhead_ms": (wall * concurrency / calls - LATENCY) * 1000,
            "cpu_ms_per_call": cpu / calls * 1000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--only", choices=["runner", "sdk"])
    args = parser.parse_args()
    rows = []
    if args.only in (None, "runner"):
        rows.append(measure("runner", args.calls, args.concurrency, None))
    if args.only in (None, "sdk"):
        proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "helpers" / "fake_llm_server.py"),
                                 "--port", "0"], stdout=subprocess.PIPE, text=True)
        try:
            base_urls = json.loads(proc.stdout.readline())["base_urls"]
            rows.append(measure("sdk", args.calls, args.concurrency, base_urls))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    load = os.getloadavg()[0]
    print(f"load average (1 min) at the end: {load:.1f}")
    print("| measurement | calls ok / ledger rows | wall | ideal | ratio | overhead per call | "
          "CPU per call |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        what = ("runner over an in-process 100 ms provider" if r["mode"] == "runner"
                else "runner + OpenAI SDK over HTTP to the fake server (100 ms)")
        print(f"| {what} | {r['ok']} / {r['ledger_rows']} | {r['wall_s']:.2f} s | {r['ideal_s']:.2f} s"
              f" | {r['ratio']:.2f}x | {r['overhead_ms']:.1f} ms | {r['cpu_ms_per_call']:.2f} ms |")


if __name__ == "__main__":
    main()

"""Cost of one call through each provider adapter (real SDK, real HTTP) and of the fake server.

Starts ``tests/helpers/fake_llm_server.py`` in its own process, then for each provider sends N calls at
concurrency 32 through :func:`core.live.providers.get_provider`:

- at 0 ms simulated latency: client CPU per call (SDK + adapter, no waiting) and server CPU per
  request (read from /proc), the throughput ceiling of one client process;
- at 100 ms simulated latency: wall time against the ideal ``calls x latency / concurrency``.

Run: ``python -m bench.bench_providers [--calls 1000]``; prints a Markdown table.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from core.live.providers import ChatRequest, get_provider
from core.settings import REPO_ROOT as ROOT

KEYS = {"anthropic": "sk-ant-bench-123456", "openai": "sk-bench-123456",
        "gemini": "AIzaBench123456789", "local": None}
CONCURRENCY = 32


def server_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def send(provider_name: str, base_urls: dict, calls: int, model: str) -> tuple[float, float]:
    provider = get_provider(provider_name, api_key=KEYS[provider_name],
                            base_url=base_urls[provider_name], timeout=30)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int):
        async with gate:
            return await provider.complete(ChatRequest(model=model, user=f"item {i} answer: A"))

    await asyncio.gather(*(one(i) for i in range(CONCURRENCY)))  # warm the connection pool
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    await provider.aclose()
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "helpers" / "fake_llm_server.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        base_urls = info["base_urls"]
        rows = []
        for name in ("openai", "anthropic", "gemini", "local"):
            s0 = server_cpu_seconds(proc.pid)
            cpu, wall = asyncio.run(send(name, base_urls, args.calls, "bench-lat0ms"))
            server = server_cpu_seconds(proc.pid) - s0
            _, wall100 = asyncio.run(send(name, base_urls, args.calls, "bench-lat100ms"))
            ideal = args.calls * 0.1 / CONCURRENCY
            rows.append((name, cpu / args.calls * 1000, server / (args.calls + CONCURRENCY) * 1000,
                         args.calls / wall, wall100, ideal))
        print(f"| provider | client CPU per call | server CPU per request | calls/s at 0 ms | "
              f"{args.calls} calls at 100 ms, c={CONCURRENCY} | ideal |")
        print("|---|---|---|---|---|---|")
        for name, client, server, rate, wall100, ideal in rows:
            print(f"| {name} | {client:.2f} ms | {server:.2f} ms | {rate:.0f} | {wall100:.2f} s "
                  f"({wall100 / ideal:.2f}x) | {ideal:.2f} s |")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()

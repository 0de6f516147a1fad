"""Gateway throughput and added latency, against calling the upstream directly, in the same run.

    python -m bench.bench_gateway [--seconds 10] [--connections 64] [--workers 1] [--budgets]
                                  [--upstream-latency-ms 20]

Starts a fast OpenAI-compatible upstream (:mod:`bench.fast_upstream`), a bare pass-through proxy
(:mod:`bench.passthrough`: Starlette + aiohttp + orjson, nothing else) and ``python -m core serve``
pointed at it (ledger on: every request is spooled and committed to a fresh workspace), then runs
Debian's ``wrk`` at ``--connections`` concurrent connections, one after the other in the same run:
straight at the upstream (the reference for added latency), through the bare proxy (the
reference for what the HTTP stack alone costs on this machine now), through the gateway
(``model: openai:gpt-4o-mini``). ``--upstream-latency-ms``: the upstream answers after that long
(a model's time), so the servers are not CPU-bound at 64 connections and the added latency is
the gateway's own rather than queueing (with an instant upstream every server is saturated and
p50 is about connections / req/s, Little's law). Prints requests per second and p50/p99 of each, the CPU the
proxy and the gateway spent per request, the gateway's added p50/p99, the ledger's row count
and the machine's load average.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from core.settings import REPO_ROOT
from tests.fixtures.app import free_port

LUA = """wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk(url: str, body: dict, seconds: int, connections: int, threads: int,
        headers: dict[str, str] | None = None) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % json.dumps(body))
        for name, value in (headers or {}).items():
            script.write(f'wrk.headers["{name}"] = "{value}"\n')
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", script.name, url], capture_output=True, text=True, timeout=seconds + 60)
    os.unlink(script.name)
    text = out.stdout

    def ms(label):
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    total = int(re.search(r"(\d+) requests in", text).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)), "p50": ms("50"),
            "p99": ms("99"), "requests": total, "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1) if errors else "none"}


def cpu_seconds(root: int, children_only: bool = False) -> float:
    """User + system CPU of a process and its children (the gateway's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    children = subprocess.run(["pgrep", "-P", str(root)], capture_output=True, text=True).stdout.split()
    total = 0.0
    for pid in children if children_only else [str(root), *children]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def wait(url: str, proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError("process exited")
    raise RuntimeError(f"{url} did not answer")


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--upstream-latency-ms", type=float, default=0.0,
                   help="the upstream answers after this long (0: at once, the throughput run)")
    p.add_argument("--budgets", action="store_true",
                   help="then again with a gateway key, a team budget and an overall budget (alert "
                        "only, never reached): what checking keys and budgets costs")
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    up_port, gw_port = free_port(), free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "bench.fast_upstream", "--port", str(up_port),
                                 "--latency-ms", str(args.upstream_latency_ms)],
                                cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    upstream.stdout.readline()
    env = {**os.environ, "OPENAI_BASE_URL": f"http://127.0.0.1:{up_port}/v1", "OPENAI_API_KEY": "sk-bench-000000",
           "TRADEOFF_WORKSPACE": str(tmp / "ws.duckdb")}
    log = open(tmp / "serve.log", "w")  # noqa: SIM115 - closed below, after the server stops
    gateway = subprocess.Popen([sys.executable, "-m", "core", "serve", "--port", str(gw_port),
                                "--workers", str(args.workers)], cwd=REPO_ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    px_port = free_port()
    proxy = subprocess.Popen([sys.executable, "-m", "bench.passthrough", "--port", str(px_port),
                              "--upstream", f"http://127.0.0.1:{up_port}/v1/chat/completions"],
                             cwd=REPO_ROOT)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Capital of France?"}]}
    try:
        wait(f"http://127.0.0.1:{px_port}/health", proxy)
        wait(f"http://127.0.0.1:{gw_port}/health", gateway)
        wrk(f"http://127.0.0.1:{px_port}/v1/chat/completions", body, 2, 8, 1)
        wrk(f"http://127.0.0.1:{gw_port}/v1/chat/completions", {**body, "model": "openai:gpt-4o-mini"},
            2, 8, 1)  # warm up the gateway's connection pool
        load_before = os.getloadavg()
        direct = wrk(f"http://127.0.0.1:{up_port}/v1/chat/completions", body, args.seconds,
                     args.connections, args.threads)
        px_cpu = cpu_seconds(proxy.pid)
        bare = wrk(f"http://127.0.0.1:{px_port}/v1/chat/completions", body, args.seconds,
                   args.connections, args.threads)
        px_cpu = cpu_seconds(proxy.pid) - px_cpu
        cpu_before = cpu_seconds(gateway.pid)
        workers_before = cpu_seconds(gateway.pid, children_only=True)
        through = wrk(f"http://127.0.0.1:{gw_port}/v1/chat/completions",
                      {**body, "model": "openai:gpt-4o-mini"}, args.seconds, args.connections, args.threads)
        cpu = cpu_seconds(gateway.pid) - cpu_before
        workers_cpu = cpu_seconds(gateway.pid, children_only=True) - workers_before
        guarded = guarded_cpu = None
        if args.budgets:
            headers = enable_budgets(tmp / "ws.duckdb", f"http://127.0.0.1:{gw_port}")
            guarded_before = cpu_seconds(gateway.pid)
            guarded = wrk(f"http://127.0.0.1:{gw_port}/v1/chat/completions",
                          {**body, "model": "openai:gpt-4o-mini"}, args.seconds, args.connections,
                          args.threads, headers)
            guarded_cpu = cpu_seconds(gateway.pid) - guarded_before
        load_after = os.getloadavg()
    finally:
        gateway.terminate()
        gateway.wait(timeout=120)
        log.close()
        upstream.terminate()
        proxy.terminate()
    from core.workspace import Workspace

    ws = Workspace(tmp / "ws.duckdb")  # the embedded workspace serve wrote (tmp/ws/)
    rows = ws.cursor().execute("select count(*) from ledger where source = 'gateway'").fetchone()[0]
    ws.close()
    answered = through["requests"] - through["non2xx"] + 2 * 0  # warm-up rows are counted below
    print(f"machine: {os.cpu_count()} cores, load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after; wrk -t{args.threads} -c{args.connections} -d{args.seconds}s; "
          f"gateway workers: {args.workers}; upstream latency {args.upstream_latency_ms:g} ms\n")
    print("| path | req/s | p50 ms | p99 ms | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|")
    for name, r in (("direct to the fake upstream", direct), ("bare pass-through proxy", bare),
                    ("through the gateway (ledger on)", through)):
        print(f"| {name} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['non2xx']} | {r['socket_errors']} |")
    if guarded is not None:
        r = guarded
        print(f"| through the gateway, key + 2 budgets checked | {r['rps']:,.0f} | {r['p50']:.2f} | "
              f"{r['p99']:.2f} | {r['non2xx']} | {r['socket_errors']} |")
        print(f"\ngateway CPU with key + budgets: {1000 * guarded_cpu / max(r['requests'], 1):.3f} ms per request")
    print(f"\nbare proxy CPU: {1000 * px_cpu / max(bare['requests'], 1):.3f} ms per request")
    print(f"gateway CPU: {cpu:.2f} s for {through['requests']:,} requests = "
          f"{1000 * cpu / max(through['requests'], 1):.3f} ms per request "
          f"(so {through['requests'] / max(cpu, 1e-9):,.0f} req/s per fully available core)")
    if args.workers > 1:
        n = max(through["requests"], 1)
        print(f"  of which workers {1000 * workers_cpu / n:.3f} ms, the parent's store agent "
              f"(spool -> ledger commits) {1000 * (cpu - workers_cpu) / n:.3f} ms per request")
    print(f"added latency: p50 +{through['p50'] - direct['p50']:.2f} ms, p99 +{through['p99'] - direct['p99']:.2f} ms")
    print(f"ledger rows: {rows:,} (answered through the gateway in the measured run: {answered:,}, "
          "plus the warm-up run's)")
    shutil.rmtree(tmp, ignore_errors=True)


def enable_budgets(workspace: Path, url: str) -> dict[str, str]:
    """A gateway key and two alert-only budgets far above what the run spends; returns the
    request headers that use them, once the running gateway checks them."""
    from core.gateway.apikeys import create_key
    from core.gateway.budgets import set_budget
    from core.workspace import Workspace

    for _ in range(200):  # the store agent holds the workspace a few ms every half second
        try:
            ws = Workspace(workspace)
            break
        except Exception:
            time.sleep(0.05)
    try:
        key = create_key(ws, "bench")["key"]
        set_budget(ws, "team", "daily", 1e6, subject="bench")
        set_budget(ws, "overall", "daily", 1e6)
    finally:
        ws.close()
    deadline = time.monotonic() + 30
    while True:
        guard = httpx.get(url + "/health").json()["guard"]
        if guard["keys_required"] and len(guard["budgets"]) == 2:
            return {"Authorization": f"Bearer {key}", "X-Tradeoff-Team": "bench"}
        if time.monotonic() > deadline:
            sys.exit("the gateway never loaded the bench key and budgets")
        time.sleep(0.1)


if __name__ == "__main__":
    main()

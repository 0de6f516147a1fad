"""Cold start: ``streamlit run app.py`` to the first chart on Compare, beside a hello-world app.

    python -m bench.bench_cold_start [--rounds 3]

Each round starts a fresh server process for each app (alternating, so both see the same
machine) and times, in headless Chromium, from the process start to the first plotly chart drawn
on the page. The reference is a hello-world Streamlit app that draws one plotly chart (the
least any app showing a chart must do). Tradeoff is timed twice: on a fresh workspace (the first
visit seeds the shipped sample eval set) and on an existing one (every later start). Prints a
Markdown table with the medians and the ratios to the reference, and the machine's load.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.settings import REPO_ROOT
from tests.fixtures.app import CHROMIUM, CHROMIUM_ARGS, free_port, wait_http

HELLO = '''import plotly.express as px
import streamlit as st

st.title("Hello")
st.plotly_chart(px.scatter(x=[1, 2, 3], y=[3, 1, 2]))
'''


def time_to_chart(script: Path, workspace: Path, browser) -> float:
    port = free_port()
    env = dict(os.environ, TRADEOFF_WORKSPACE=str(workspace))
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", timeout=120)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=120_000)
        elapsed = time.perf_counter() - start
        page.close()
        return elapsed
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {"hello": [], "fresh": [], "existing": []}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        existing = Path(tmp) / "existing.duckdb"
        time_to_chart(REPO_ROOT / "app.py", existing, browser)  # seed it once, untimed
        for r in range(args.rounds):
            times["hello"].append(time_to_chart(hello, Path(tmp) / "unused.duckdb", browser))
            times["fresh"].append(time_to_chart(REPO_ROOT / "app.py", Path(tmp) / f"fresh{r}.duckdb",
                                                browser))
            times["existing"].append(time_to_chart(REPO_ROOT / "app.py", existing, browser))
        browser.close()
    load = os.getloadavg()
    ref = statistics.median(times["hello"])
    print(f"Load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; {args.rounds} rounds, "
          "median seconds from process start to the first chart drawn in Chromium.\n")
    print("| app | median | runs | ratio to hello world |\n|---|---|---|---|")
    for name, label in (("hello", "hello world + one plotly chart"),
                        ("fresh", "Tradeoff, fresh workspace (seeds the sample)"),
                        ("existing", "Tradeoff, existing workspace")):
        med = statistics.median(times[name])
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"| {label} | {med:.2f} s | {runs} | {med / ref:.2f}x |")


if __name__ == "__main__":
    main()

"""Cascade tuner slider: from the release of the threshold slider to the redrawn chart, in Chromium.

    python -m bench.bench_slider [--moves 20] [--before REV]

Serves ``app.py`` twice on the shipped sample eval set, each with a fresh workspace: BEFORE (the
tree of git revision ``--before``, default ``store``, exported with ``git archive``) and AFTER (this
checkout). One headless Chromium page per server opens the Cascade tuner; the two pages take turns,
so both see the same machine. A move presses the mouse on the slider's track at a seeded random
place, reads the value the slider took, starts the clock and releases the mouse; it stops when
the chart's "Current point" trace in the DOM holds that threshold's operating point (predicted
with ``core.routing.frontier``), checked on every animation frame. A move whose threshold keeps
the same operating point is made but not timed. Prints the median and p90 per app and the
machine's load average, and, as figures a busy machine inflates less, the CPU a move costs: the
server process's (``/proc/<pid>/stat``) and the browser page's main thread (CDP ``ThreadTime``),
each over the move and the 0.3 s after it.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

from core.settings import REPO_ROOT
from tests.fixtures.app import CHROMIUM, CHROMIUM_ARGS, free_port, wait_http

READ_CURRENT = """() => {
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const trace = (plot.data || []).find(t => t.name === 'Current point');
    if (trace) return [Number(trace.x[0]), Number(trace.y[0])];
  }
  return null;
}"""
TRACK = "[data-testid='stSlider'] [role='group'] > div[data-orientation='horizontal']"
SHOWS = f"""([x, y]) => {{
  const p = ({READ_CURRENT})();
  return p !== null && Math.abs(p[0] - x) <= 1e-12 * Math.abs(x) && Math.abs(p[1] - y) <= 1e-12;
}}"""


def export_tree(rev: str, dest: Path) -> Path:
    """The files of ``rev`` (tracked files only), as ``git archive`` writes them."""
    data = subprocess.run(["git", "archive", rev], cwd=REPO_ROOT, check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def serve(tree: Path, workspace: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, TRADEOFF_WORKSPACE=str(workspace))
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/_stcore/health", timeout=120)
    return proc, f"http://127.0.0.1:{port}/cascade"


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def predictor():
    """threshold -> (cost per item, quality) of the tuner's opening cascade on the sample."""
    from core.evaluation.loading import load_csv
    from core.routing.frontier import cascade_frontier, default_cascade, point_summary

    evalset = load_csv(REPO_ROOT / "data" / "sample_evalset.csv", name="sample_evalset.csv")
    models, signal = default_cascade(evalset)
    fr = cascade_frontier(evalset, models, signal)

    def point(t: float) -> tuple[float, float]:
        p = point_summary(fr, [t])
        return (float(p["cost_per_item"]), float(p["quality"]))

    return point


class Tuner:
    """One browser page on one server's Cascade tuner."""

    def __init__(self, browser, url: str, point, server_pid: int):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.set_default_timeout(120_000)
        self.page.goto(url)
        self.page.wait_for_function(READ_CURRENT, timeout=180_000)
        self.thumb = self.page.locator("[data-testid='stSlider'] input[type='range']").first
        self.point = point
        self.pid = server_pid
        self.cdp = self.page.context.new_cdp_session(self.page)
        self.cdp.send("Performance.enable")
        self.cpu: list[tuple[float, float]] = []  # (server, browser main thread) seconds per move
        self.shown = self.point(float(self.thumb.input_value()))
        self.page.wait_for_function(SHOWS, arg=list(self.shown), polling="raf")

    def move(self, fraction: float) -> float | None:
        """Press on the track at ``fraction`` of its width, release, wait for the redraw:
        seconds from the release, or None when the threshold keeps the same point."""
        box = self.page.locator(TRACK).first.bounding_box()
        x, y = box["x"] + fraction * box["width"], box["y"] + box["height"] / 2
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        value = float(self.thumb.input_value())
        target = self.point(value)
        cpu_before = (server_cpu(self.pid), self.thread_time())
        start = time.perf_counter()
        self.page.mouse.up()
        if target == self.shown:
            self.page.wait_for_timeout(1500)  # let its rerun finish; not timed
            return None
        self.page.wait_for_function(SHOWS, arg=list(target), polling="raf")
        elapsed = time.perf_counter() - start
        self.shown = target
        self.page.wait_for_timeout(300)  # the rest of the rerun settles before the next move
        self.cpu.append((server_cpu(self.pid) - cpu_before[0], self.thread_time() - cpu_before[1]))
        return elapsed

    def thread_time(self) -> float:
        metrics = self.cdp.send("Performance.getMetrics")["metrics"]
        return next(m["value"] for m in metrics if m["name"] == "ThreadTime")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--before", default="store", help="git revision timed as BEFORE")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    point = predictor()
    rng = random.Random(args.seed)
    times: dict[str, list[float]] = {"before": [], "after": []}
    procs = []
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        tmp = Path(tmp)
        trees = {"before": export_tree(args.before, tmp / "before"), "after": REPO_ROOT}
        try:
            urls, pids = {}, {}
            for name, tree in trees.items():
                proc, urls[name] = serve(tree, tmp / f"{name}.duckdb", tmp / f"{name}.log")
                procs.append(proc)
                pids[name] = proc.pid
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            tuners = {name: Tuner(browser, url, point, pids[name]) for name, url in urls.items()}
            for tuner in tuners.values():  # warm up: the first moves import and cache
                for fraction in (0.3, 0.6):
                    tuner.move(fraction)
                tuner.cpu.clear()
            while min(len(t) for t in times.values()) < args.moves:
                fraction = rng.uniform(0.03, 0.97)
                for name, tuner in tuners.items():
                    if len(times[name]) < args.moves:
                        elapsed = tuner.move(fraction)
                        if elapsed is not None:
                            times[name].append(elapsed)
                loads.append(os.getloadavg()[0])
            browser.close()
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=20)
    load = os.getloadavg()
    print(f"Load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the end "
          f"(1-minute load {min(loads):.2f}-{max(loads):.2f} during the run); "
          f"{args.moves} timed moves per app, BEFORE = {args.before}, AFTER = this checkout.\n")
    print("| app | median | p90 | min | max | server CPU per move (median) "
          "| browser main-thread CPU per move (median) |\n|---|---|---|---|---|---|---|")
    for name, values in times.items():
        ms = np.array(values) * 1000
        cpu = np.array(tuners[name].cpu) * 1000
        print(f"| {name.upper()} | {statistics.median(ms):.0f} ms | {np.percentile(ms, 90):.0f} ms "
              f"| {ms.min():.0f} ms | {ms.max():.0f} ms | {np.median(cpu[:, 0]):.0f} ms "
              f"| {np.median(cpu[:, 1]):.0f} ms |")


if __name__ == "__main__":
    main()

"""Shared fixtures: a throwaway workspace, the app served on 127.0.0.1, headless Chromium.

Area-specific fixtures (fake provider servers, ledgers...) live in their own test modules or in
``tests/helpers_<area>.py``; keep this file to what every area needs.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACCEPTANCE = ROOT.parent / "shared" / "acceptance"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("TRADEOFF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def workspace_path(tmp_path, monkeypatch) -> Path:
    """TRADEOFF_WORKSPACE pointed at a fresh file for this test."""
    path = tmp_path / "workspace.duckdb"
    monkeypatch.setenv("TRADEOFF_WORKSPACE", str(path))
    return path


@pytest.fixture
def ws(workspace_path):
    from core.workspace import open_workspace

    workspace = open_workspace(workspace_path)
    yield workspace
    workspace.close()


@pytest.fixture
def routerbench_test() -> Path:
    path = ACCEPTANCE / "routerbench" / "arc_challenge_test.csv"
    if not path.exists():
        pytest.skip(f"acceptance data absent: {path} (shared/acceptance is not beside this checkout)")
    return path


@pytest.fixture
def routerbench_train() -> Path:
    path = ACCEPTANCE / "routerbench" / "arc_challenge_train.csv"
    if not path.exists():
        pytest.skip(f"acceptance data absent: {path} (shared/acceptance is not beside this checkout)")
    return path


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


@pytest.fixture
def app_server(tmp_path):
    """``streamlit run app.py`` on 127.0.0.1 with its own workspace; yields (url, env)."""
    port = free_port()
    env = dict(os.environ, TRADEOFF_WORKSPACE=str(tmp_path / "app-workspace.duckdb"))
    env.pop("ANTHROPIC_API_KEY", None)
    # The server's output goes to a file: an undrained pipe would block a chatty server, and the
    # file's tail is printed when a test fails (pytest shows it with the failure).
    log_path = tmp_path / "streamlit.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/_stcore/health")
        yield f"http://127.0.0.1:{port}", env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"--- streamlit server log (tail) ---\n{log_path.read_text()[-3000:]}")


@pytest.fixture
def browser():
    """Headless Debian Chromium driven by Playwright (``playwright install`` cannot run here)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    ctx.close()

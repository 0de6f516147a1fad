"""A real browser deploys a saved policy on the Gateway page, ``python -m core serve`` serves it
to the official openai client (against the fake providers), and the calls show on the Spend
page and the Gateway page.

Each request costs $1.00: "qNN answer: a" is 8 input tokens to the fake provider, priced here
at $125,000 per million (output free)."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from core.pricing.edits import set_override
from core.routing.optimize.store import save_policy
from core.routing.policies import SingleModel
from core.settings import REPO_ROOT
from core.workspace import Workspace
from tests.browser.test_browser_spend import open_page
from tests.fixtures.app import free_port

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def serving(env: dict, log_path: Path):
    port = free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "core", "serve", "--port", str(port), "--drain", "5"],
                                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def wait_served(url: str, model: str) -> None:
    deadline = time.monotonic() + 30
    while model not in [m["id"] for m in httpx.get(url + "/v1/models").json()["data"]]:
        assert time.monotonic() < deadline, f"{model} was never served"
        time.sleep(0.2)


def test_deploy_on_the_gateway_page_serve_and_see_it_on_spend(app_server, page, artifacts, tmp_path, fake_llm_env):
    url, env = app_server
    ws = Workspace(env["TRADEOFF_WORKSPACE"])
    save_policy(ws, "Support big", SingleModel("openai:big"))
    set_override(ws, "openai:big", 125_000, 0)
    ws.close()

    page.goto(url)
    open_page(page, "Gateway")
    chooser = page.get_by_role("combobox", name="Saved policy")
    chooser.wait_for(timeout=120_000)
    option = page.get_by_role("option", name="Support big (single) → tradeoff/support-big")
    for _ in range(5):  # click 1: choose the saved policy (the list opens once the widget hydrated)
        chooser.click()
        try:
            option.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    option.click()
    page.get_by_role("button", name="Deploy to the gateway").click()  # click 2
    page.get_by_text("Deployed Support big as tradeoff/support-big (revision 1)", exact=False).wait_for(timeout=60_000)

    with serving({**env, **fake_llm_env, "TRADEOFF_WORKSPACE": env["TRADEOFF_WORKSPACE"]},
                 tmp_path / "serve.log") as gateway:
        wait_served(gateway, "tradeoff/support-big")
        client = openai.OpenAI(base_url=gateway + "/v1", api_key="unused", max_retries=0, timeout=30)
        for i in range(3):
            answer = client.chat.completions.create(
                model="tradeoff/support-big", messages=[{"role": "user", "content": f"q{i:02d} answer: a"}],
                extra_headers={"X-Tradeoff-Team": "support"})
            assert answer.choices[0].message.content == "a"

        deadline = time.monotonic() + 90
        while True:  # the store agent commits every half second; the page reads on each visit
            open_page(page, "Spend")
            spend = page.locator("[data-testid='stMetric']").filter(has_text="Spend").first
            with contextlib.suppress(Exception):
                spend.wait_for(timeout=10_000)
                if "$3.00" in spend.inner_text():
                    break
            assert time.monotonic() < deadline, page.locator("[data-testid='stMain']").inner_text()[:2000]
        requests = page.locator("[data-testid='stMetric']").filter(has_text="Requests").first
        assert requests.inner_text().split()[-1] == "3"
        page.screenshot(path=str(artifacts / "gateway_spend.png"), full_page=True)

        open_page(page, "Gateway")
        page.get_by_text("A gateway is serving this workspace", exact=False).wait_for(timeout=60_000)
        table = page.locator("[data-testid='stDataFrame']").nth(1)
        table.wait_for(timeout=60_000)
        page.screenshot(path=str(artifacts / "gateway_page.png"), full_page=True)

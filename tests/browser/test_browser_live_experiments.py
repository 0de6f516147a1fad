"""Real browser: a live experiment whose rollout the gateway advanced, seen and rolled back on the page.

Traffic goes through the gateway (official openai client, fake providers) until the store agent
advances the rollout; then the console opens the same workspace and shows the stage, the one
verdict, the guardrails and the decision log, and the PM rolls the experiment back by hand.
"""
from __future__ import annotations

import asyncio
import re

import pytest

from core.experiments.live import LiveSpec, Settings
from core.routing.policies import SingleModel
from tests.fixtures.gateway import GatewayUnderTest
from tests.gateway.test_gateway_experiments import CAND, CTRL, burst, drive, start

pytestmark = pytest.mark.browser


@pytest.fixture
def app_workspace(tmp_path):
    gw = GatewayUnderTest(tmp_path / "gw")
    try:
        for model in (CTRL, CAND):
            gw.set_price(model, 1.0, 2.0)
        gw.deploy("support", SingleModel(CTRL))
        gw.deploy("cheap", SingleModel(CAND))
        start(gw, LiveSpec("browser-rollout", route="support", control="support", candidate="cheap",
                           mode="rollout", shadow_share=0.5, unit="request", stages=(25, 50, 100),
                           settings=Settings(tolerance=0.2, error_margin=0.2, min_per_arm=30,
                                             latency_ratio=3.0)))
        drive(gw, "browser-rollout", lambda s: s.share == 0.5)
        asyncio.run(burst(gw, 20, tag="more"))
    finally:
        gw.stop()  # the console opens the workspace next (one writer at a time on this store)
    return gw.workspace


def log_rows(page) -> list[list[str]]:
    """The decision log's cells (when, action, by, share, ...), newest first."""
    table = page.locator("[data-testid='stTableStyledTable']").last
    table.locator("tbody tr").first.wait_for()
    return [r.locator("td").all_inner_texts() for r in table.locator("tbody tr").all()]


def test_the_page_shows_the_advanced_stage_and_rolls_back(app_server, app_workspace, page, artifacts):
    url, _ = app_server
    page.goto(f"{url}/experiments")
    page.get_by_text(re.compile(r"Verdict: (go|no-go|inconclusive)")).first.wait_for(timeout=90_000)
    body = page.locator("body").inner_text()
    assert "at stage 50%" in body and "Rollout:" in body
    rows = log_rows(page)
    assert [r[1:4] for r in rows] == [["advance", "auto", "50%"], ["created", "pm", "25%"]]
    page.screenshot(path=str(artifacts / "experiments_live.png"), full_page=True)
    page.get_by_role("button", name="Roll back").click()
    page.get_by_text("at stage 0% (rolled back)").wait_for(timeout=60_000)
    assert log_rows(page)[0][1:4] == ["rollback", "pm", "0%"]

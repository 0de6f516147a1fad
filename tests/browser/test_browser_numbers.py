"""Real browser: numbers and chart ticks as a PM reads them (issue 13, item 18): a one-day Spend
chart ticks that day only, in dollars with thousands separators; Compare's log cost axis ticks in
dollars, never SI suffixes such as 100µ."""
from __future__ import annotations

import re

import pandas as pd
import pytest

from core.spend.ledger import record_calls
from core.workspace import open_workspace
from tests.browser.test_browser_spend import open_page

pytestmark = pytest.mark.browser


def _ticks(chart, axis: str) -> list[str]:
    return [t.strip() for t in chart.locator(f"g.{axis}tick text").all_text_contents() if t.strip()]


def test_one_day_spend_chart_and_log_cost_axis(app_server, page, artifacts):
    url, env = app_server
    ws = open_workspace(env["TRADEOFF_WORKSPACE"])
    record_calls(ws, pd.DataFrame({"call_id": ["a", "b"], "ts": [pd.Timestamp("2026-03-01 10:00")] * 2,
                                   "model": ["big", "small"], "cost_usd": [1234.5, 0.25]}))
    ws.close()

    page.goto(url)
    open_page(page, "Spend")
    chart = page.locator(".stPlotlyChart, [data-testid='stPlotlyChart']").first
    chart.locator("g.xtick text").first.wait_for(timeout=90_000)
    box = page.locator("[data-testid='stMetric']").filter(has_text="Spend").first
    assert box.locator("[data-testid='stMetricValue']").inner_text().strip() == "$1,234.75"
    assert _ticks(chart, "x") == ["Mar 01, 2026"]  # one tick, the day: no 23:59:59.9996
    y = _ticks(chart, "y")
    assert y and all(re.fullmatch(r"\$\d{1,3}(,\d{3})*(\.\d+)?", t) for t in y), y
    assert "$1,000" in y
    page.screenshot(path=str(artifacts / "spend_one_day.png"), full_page=True)

    open_page(page, "Compare models")
    toggle = page.get_by_text("Log cost axis")
    toggle.wait_for(timeout=120_000)
    scatter = page.locator(".stPlotlyChart, [data-testid='stPlotlyChart']").first
    scatter.locator("g.xtick text").first.wait_for(timeout=60_000)
    if "log scale" not in scatter.inner_text():
        toggle.click()
    page.get_by_text("log scale").first.wait_for(timeout=60_000)
    scatter = page.locator(".stPlotlyChart, [data-testid='stPlotlyChart']").first
    x = _ticks(scatter, "x")
    assert x and all(t.startswith("$") for t in x), x
    assert not any(re.search(r"[µmk]$", t) for t in x), x
    labels = [t for t in scatter.locator("g.textpoint text").all_text_contents() if t.strip()]
    assert 1 <= len(labels) < 6  # only the Pareto front is labelled; the sample has 6 models
    page.screenshot(path=str(artifacts / "compare_log_axis.png"), full_page=True)

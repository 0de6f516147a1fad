"""A real browser: on the Cascade tuner (the seeded sample), switching on "cache" and then "batch"
lowers the plan's projected spend, and the frontier chart gains the what-if points."""
from __future__ import annotations

import pytest

from core.routing.task_settings import set_delay_tolerant
from core.workspace import Workspace

pytestmark = pytest.mark.browser

READ_VARIANTS = """() => {
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const names = (plot.data || []).map(t => t.name);
    if (names.some(n => n && n.startsWith('route + cache'))) return names;
  }
  return null;
}"""


@pytest.fixture
def app_workspace(tmp_path):
    path = tmp_path / "workspace"
    ws = Workspace(path)
    try:
        set_delay_tolerant(ws, "spam", True)  # the sample's spam filter may wait a day
    finally:
        ws.close()
    return path


def plan_per_day(page) -> float:
    box = page.locator("[data-testid='stMetric']").filter(has_text="Plan per day").first
    return float(box.locator("[data-testid='stMetricValue']").inner_text().strip().lstrip("$").replace(",", ""))


def wait_for_change(page, before: float) -> float:
    value = before
    for _ in range(240):
        page.wait_for_timeout(500)
        value = plan_per_day(page)
        if value != before:
            page.wait_for_timeout(1000)  # the rerun settles: read again
            return plan_per_day(page)
    raise AssertionError(f"the plan's spend never moved from ${before:,.2f}")


def test_cache_and_batch_toggles_change_the_projection(app_server, page, artifacts):
    url, _env = app_server
    page.goto(url)
    page.locator("[data-testid='stSidebarNav']").get_by_text("Cascade tuner").click(timeout=120_000)
    page.get_by_role("heading", name="Cascade tuner").wait_for(timeout=120_000)
    page.locator("[data-testid='stMetric']").filter(has_text="Plan per day").first.wait_for(timeout=120_000)
    route = plan_per_day(page)
    assert page.evaluate(READ_VARIANTS) is None  # nothing switched on: no what-if chart to redraw

    page.get_by_text("Cache the shared prompt prefix").click()
    cached = wait_for_change(page, route)
    assert cached < route
    page.wait_for_function(READ_VARIANTS, timeout=120_000)
    names = page.evaluate(READ_VARIANTS)
    assert "route + cache (your plan)" in names and "route + cache + batch" in names
    page.get_by_text("Send delay-tolerant tasks to batch APIs").click()
    both = wait_for_change(page, cached)
    assert both < cached  # spam's calls at the batch price on top
    page.screenshot(path=str(artifacts / "cascade_whatif.png"), full_page=True)

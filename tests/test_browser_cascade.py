"""A real browser: Chromium opens the Cascade tuner on the seeded sample, moves the threshold
slider with the keyboard, and the chart's current-point marker moves with it."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

READ_CURRENT = """() => {
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const trace = (plot.data || []).find(t => t.name === 'Current point');
    if (trace) return [Number(trace.x[0]), Number(trace.y[0])];
  }
  return null;
}"""


def metric(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return box.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_drag_threshold_moves_the_current_point(app_server, page, artifacts):
    url, _env = app_server
    page.goto(f"{url}/cascade")
    page.get_by_role("heading", name="Cascade tuner").wait_for(timeout=120_000)
    page.wait_for_function(READ_CURRENT, timeout=120_000)
    before = page.evaluate(READ_CURRENT)
    cost_before = metric(page, "Cost per item")
    page.screenshot(path=str(artifacts / "cascade_before.png"), full_page=True)

    thumb = page.locator("[data-testid='stSlider'] [role='slider']").first
    thumb.focus()
    start = float(thumb.get_attribute("aria-valuenow"))
    for _ in range(30):  # 30 steps of 0.01 down: more of the cheap model's answers are kept
        page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        f"() => {{ const p = ({READ_CURRENT})(); return p && (p[0] !== {before[0]} || p[1] !== {before[1]}); }}",
        timeout=60_000)
    after = page.evaluate(READ_CURRENT)
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / "cascade_after.png"), full_page=True)

    assert float(thumb.get_attribute("aria-valuenow")) == pytest.approx(start - 0.30, abs=1e-6)
    assert after[0] < before[0]  # fewer escalations: cheaper
    assert metric(page, "Cost per item") != cost_before
    assert metric(page, "Cost per item") == f"${after[0]:.6f}"

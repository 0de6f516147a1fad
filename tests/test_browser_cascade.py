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
    page.goto(url)  # through app.py's navigation, as a user arrives
    page.locator("[data-testid='stSidebarNav']").get_by_text("Cascade tuner").click(timeout=120_000)
    page.get_by_role("heading", name="Cascade tuner").wait_for(timeout=120_000)
    page.wait_for_function(READ_CURRENT, timeout=120_000)
    before = page.evaluate(READ_CURRENT)
    cost_before = metric(page, "Cost per item")
    page.screenshot(path=str(artifacts / "cascade_before.png"), full_page=True)

    # Streamlit's slider is a react-aria range input under the thumb
    thumb = page.locator("[data-testid='stSlider'] input[type='range']").first
    thumb.focus()
    start = float(thumb.input_value())
    for _ in range(30):  # 30 steps of 0.01 down: more of the cheap model's answers are kept
        page.keyboard.press("ArrowLeft")
    # each key press may rerun the script; wait until the chart and the metrics agree again
    after, last = None, None
    for _ in range(120):
        page.wait_for_timeout(500)
        point = page.evaluate(READ_CURRENT)
        settled = (point == last and abs(float(thumb.input_value()) - (start - 0.30)) < 1e-6
                   and metric(page, "Cost per item") == f"${point[0]:.6f}")
        if point and point != before and settled:
            after = point
            break
        last = point
    assert after is not None, "the current-point marker never settled on a new position"
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / "cascade_after.png"), full_page=True)

    assert float(thumb.input_value()) == pytest.approx(start - 0.30, abs=1e-6)
    assert after[0] < before[0]  # fewer escalations: cheaper
    assert metric(page, "Cost per item") != cost_before
    assert metric(page, "Cost per item") == f"${after[0]:.6f}"

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
    start = float(thumb.input_value())
    # A rerun still in flight can re-render the slider and drop the focus: press on the input
    # itself (focus + key) until the value moves.
    for _ in range(3):  # three steps of 0.01 down, one rerun each...
        thumb.press("ArrowLeft")
        page.wait_for_timeout(300)
    for _ in range(20):  # ...then all the way to 0: keep every answer of the cheap model
        thumb.press("Home")
        page.wait_for_timeout(1000)
        if float(thumb.input_value()) == 0.0:
            break
    # each change reruns the script; wait until the slider, chart and metrics agree and hold still
    after, last, seen = None, None, None
    for _ in range(180):
        page.wait_for_timeout(500)
        point = page.evaluate(READ_CURRENT)
        value = float(thumb.input_value())
        seen = (point, value, metric(page, "Cost per item"))
        settled = (point is not None and point == last and value == 0.0
                   and seen[2] == f"${point[0]:.6f}")
        if point and point != before and settled:
            after = point
            break
        last = point
    assert after is not None, f"the current-point marker never settled: {seen}, before {before}"
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / "cascade_after.png"), full_page=True)

    assert start > 0.0
    assert after[0] < before[0]  # no escalation: cheaper
    assert metric(page, "Cost per item") != cost_before
    assert metric(page, "Cost per item") == f"${after[0]:.6f}"
    assert metric(page, "Escalation rate") == "0.0%"

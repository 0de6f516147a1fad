"""A real browser: the served app, Chromium uploads an eval set through the file input, and the
leaderboard on the page shows the numbers computed by hand."""
from __future__ import annotations

import pytest

from core.settings import REPO_ROOT

DATA = REPO_ROOT / "tests" / "data"

pytestmark = pytest.mark.browser


def grid_rows(page) -> list[list[str]]:
    """Cells of the first st.dataframe, read from the grid's accessible table."""
    grid = page.locator("[data-testid='stDataFrame']").first
    grid.locator("table[role='grid']").wait_for(state="attached")
    return grid.evaluate(
        "el => Array.from(el.querySelectorAll('table[role=grid] tr')).map("
        "tr => Array.from(tr.querySelectorAll('th,td')).map(c => c.innerText.trim()))")


def test_upload_and_read_the_leaderboard(app_server, page, artifacts):
    url, _env = app_server
    page.goto(url)
    page.get_by_role("heading", name="Compare models").wait_for(timeout=120_000)
    uploader = page.locator("[data-testid='stFileUploader'] input[type='file']")
    if not uploader.count():  # a seeded workspace shows the upload box folded
        page.get_by_text("Upload an eval set").click()
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(
        str(DATA / "tiny_long.csv"))
    # the confirmation sits in the upload box, which may fold again on the rerun
    page.get_by_text("Stored tiny_long.csv in the workspace.").wait_for(state="attached",
                                                                        timeout=120_000)
    page.get_by_text("3 items. Quality is the mean", exact=False).first.wait_for()
    page.wait_for_timeout(1500)  # let the grid paint before the screenshot
    page.screenshot(path=str(artifacts / "compare_leaderboard.png"), full_page=True)
    rows = grid_rows(page)
    header = rows[0]
    body = {r[header.index("Model")]: dict(zip(header, r)) for r in rows[1:] if len(r) == len(header)}
    assert set(body) == {"big", "small"}
    # the grid's accessible table carries the raw values; the canvas shows them formatted
    assert float(body["small"]["Quality"]) == pytest.approx(2 / 3)
    assert body["small"]["95% interval"] == "0.208 – 0.939"  # Wilson, 2 of 3
    assert float(body["small"]["$ / item"]) == pytest.approx(0.001)
    assert float(body["small"]["$ / correct"]) == pytest.approx(0.0015)
    assert float(body["big"]["p95 ms"]) == pytest.approx(290)
    assert float(body["big"]["Quality"]) == 1.0
    # the charts below render too (plotly draws SVG): quality-cost scatter, tasks, confusion
    page.locator(".js-plotly-plot").nth(2).wait_for(timeout=60_000)
    page.get_by_role("heading", name="Where the models disagree").scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "compare_charts.png"))

"""A real browser: on Compare, clicking a row of the disagreement table shows that item (its
input, label and each model's answer and score side by side)."""
from __future__ import annotations

import pytest

from core.settings import REPO_ROOT

DATA = REPO_ROOT / "tests" / "data"

pytestmark = pytest.mark.browser


def test_click_a_disagreement_row_shows_the_item(app_server, page, artifacts):
    url, _env = app_server
    page.goto(url)
    page.get_by_role("heading", name="Compare models").wait_for(timeout=120_000)
    if not page.locator("[data-testid='stFileUploader'] input[type='file']").count():
        page.get_by_text("Upload an eval set").click()  # a seeded workspace folds the upload box
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(
        str(DATA / "tiny_long.csv"))
    page.get_by_text("Stored tiny_long.csv in the workspace.").wait_for(state="attached",
                                                                        timeout=120_000)
    # tiny_long: big and small agree on items 1 and 3 ("4", "Blue" = " blue "), not on item 2
    page.get_by_text("1 of 3 items get different answers or scores", exact=False).wait_for(
        timeout=120_000)
    page.get_by_text("Click a row to read its answers side by side.").wait_for()
    grid = page.locator(".st-key-compare_disagreements[data-testid='stDataFrame'], "
                        ".st-key-compare_disagreements [data-testid='stDataFrame']").first
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)  # let the canvas paint
    box = grid.bounding_box()
    # the row-selection column is the grid's first; the first body row sits under the header
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 35 // 2)
    page.get_by_text("Item 2", exact=False).first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / "compare_disagreement_item.png"), full_page=True)
    detail = page.locator("[data-testid='stMain']").inner_text()
    assert "Item 2 · task geo" in detail
    assert "Capital of France?" in detail and "Label: Paris" in detail
    assert "big · score 1.00" in detail and "small · score 0.00" in detail
    assert "Lyon" in detail  # small's answer, beside big's
    assert "Click a row to read its answers side by side." not in detail

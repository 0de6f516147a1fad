"""A real browser picks a scorer on the Compare page and sees the leaderboard change: an eval set
of open-ended answers scored in the file, then re-scored by exact match against its reference."""
from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.test_browser_compare import grid_rows

pytestmark = pytest.mark.browser

CSV = """item_id,model,input,reference,output,score
1,big,Capital of France?,Paris,Paris,1
1,small,Capital of France?,Paris,paris,0
2,big,2+2?,4,four,1
2,small,2+2?,4,4,0
3,big,Sky colour?,blue,Blue.,1
3,small,Sky colour?,blue,blue,0
"""


def qualities(page) -> dict[str, float]:
    rows = grid_rows(page)
    header = rows[0]
    return {r[header.index("Model")]: float(r[header.index("Quality")])
            for r in rows[1:] if len(r) == len(header)}


def test_pick_a_scorer_and_the_leaderboard_changes(app_server, page, artifacts, tmp_path):
    url, _env = app_server
    upload = tmp_path / "open_answers.csv"
    upload.write_text(CSV)
    page.goto(url)
    page.get_by_role("heading", name="Compare models").wait_for(timeout=120_000)
    if not page.locator("[data-testid='stFileUploader'] input[type='file']").count():
        page.get_by_text("Upload an eval set").click()
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(upload))
    page.get_by_text("Stored open_answers.csv in the workspace.").wait_for(state="attached",
                                                                         timeout=120_000)
    page.get_by_text("3 items. Quality is the mean", exact=False).first.wait_for()
    page.wait_for_timeout(1000)
    assert qualities(page) == {"big": 1.0, "small": 0.0}  # the file's scores
    page.get_by_text("Change how answers are scored").click()
    scorer = page.get_by_role("combobox", name="Scorer")
    option = page.get_by_role("option", name="Exact match (normalised)")
    for _ in range(5):  # the list opens once the widget has hydrated after the rerun
        scorer.click()
        scorer.fill("Exact match")
        try:
            option.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    option.click()
    page.get_by_text("The answer equals the expected one", exact=False).wait_for()
    page.get_by_role("button", name="Apply scorer").click()
    # exact match against the reference: big 1/3 ("four" != "4", "Blue." != "blue"), small 3/3
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('[data-testid=stDataFrame] table[role=grid] td'))"
        ".some(td => td.innerText.trim().startsWith('0.333'))", timeout=120_000)
    page.wait_for_timeout(1000)  # let the grid paint before the screenshot
    got = qualities(page)
    assert got["small"] == 1.0 and got["big"] == pytest.approx(1 / 3, abs=1e-3)
    page.screenshot(path=str(artifacts / "compare_scorers.png"), full_page=True)

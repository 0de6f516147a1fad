"""Real browser: widgets set up for one eval set follow a switch to another (issue 13, item 17).

A widget's default does not reach a browser that already shows that widget: after a switch, the
browser sent back the old set's models on the next rerun and the candidate lost its steps
("Pick at least two models")."""
from __future__ import annotations

import pytest

from core.evaluation.loading import load_csv
from core.evaluation.store import save_evalset
from core.workspace import open_workspace
from tests.pages.test_experiments_page import _csv

pytestmark = pytest.mark.browser


def test_switching_the_eval_set_keeps_a_working_candidate(app_server, page):
    url, env = app_server
    ws = open_workspace(env["TRADEOFF_WORKSPACE"])
    save_evalset(ws, load_csv(_csv(), name="a.csv"), name="a.csv")
    renamed = _csv().decode().replace(",big,", ",large,").replace(",cheap,", ",small,")
    save_evalset(ws, load_csv(renamed.encode(), name="b.csv"), name="b.csv")
    ws.close()

    page.goto(f"{url}/experiments")
    page.get_by_role("tab", name="Plan an experiment").click(timeout=90_000)
    steps = page.locator(".st-key-ab_b_steps")  # the A/B candidate's steps (chips of models)
    steps.wait_for(timeout=90_000)
    page.get_by_text("Verdict:").first.wait_for(timeout=90_000)
    assert "small" in steps.inner_text() and "large" in steps.inner_text()  # newest set first

    page.get_by_label("Eval set").first.click()
    page.get_by_role("option").filter(has_text="a.csv").click()
    steps.get_by_text("big").wait_for()  # the new set's models, right after the switch
    tol = page.get_by_label("Tolerance: largest acceptable quality drop").first
    tol.fill("0.030")  # any interaction: the next rerun carries what the browser shows
    tol.press("Enter")
    page.get_by_label("Quality drop above").first.wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('input')].some("
                           "i => i.getAttribute('aria-label') === 'Quality drop above'"
                           " && i.value === '0.030')")
    page.get_by_text("Verdict:").first.wait_for(timeout=60_000)
    text = steps.inner_text()
    assert "cheap" in text and "big" in text and "small" not in text
    assert page.get_by_text("Pick at least two models for the cascade.").count() == 0

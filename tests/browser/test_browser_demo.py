"""Real browser: a first visit opens Spend on the synthetic demo ledger, marked, with dollar
figures formatted and the billable / simulated split, no budget alert for made-up spend, and the
demo gone in one click (issue 13, item 19). The server's clock is frozen at 2026-05-20."""
from __future__ import annotations

import re

import pytest

from core.spend.budgets import set_budget
from core.workspace import open_workspace
from tests.browser.test_browser_spend import open_page

pytestmark = pytest.mark.browser


@pytest.fixture
def frozen_server(monkeypatch, request):
    monkeypatch.setenv("TRADEOFF_NOW", "2026-05-20T12:00:00Z")
    return request.getfixturevalue("app_server")


def _metric(page, label: str) -> str:
    box = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return box.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_first_visit_opens_spend_on_the_demo_and_removes_it(frozen_server, page, artifacts):
    url, env = frozen_server
    ws = open_workspace(env["TRADEOFF_WORKSPACE"])
    set_budget(ws, "daily", 50.0)  # the demo spends $97.19 on 2026-05-20: never an alert
    ws.close()

    page.goto(url)
    open_page(page, "Spend")
    page.get_by_text("Synthetic demo ledger", exact=False).first.wait_for(timeout=120_000)
    page.locator("[data-testid='stMetric']").filter(has_text="Simulated").first.wait_for()
    assert _metric(page, "Billable (every real dollar)") == "$2,370.60"
    assert _metric(page, "Simulated (never billed)") == "$3.07"  # 3 x 250 x $0.0041
    assert _metric(page, "Shadow (kept apart)") == "$5.90"
    text = page.locator("[data-testid='stMain']").inner_text()
    assert not re.search(r"-\$?0\.0+(?![0-9])", text)  # no negative zero ("-0.000", "-$0.00"); "-0.008" is fine
    assert "None" not in text
    sidebar = page.locator("[data-testid='stSidebar']").inner_text()
    assert "budget alert" not in sidebar
    page.screenshot(path=str(artifacts / "spend_demo.png"), full_page=True)

    page.get_by_role("button", name="Remove the demo data").click()
    page.get_by_text("The ledger is empty", exact=False).wait_for(timeout=60_000)
    assert page.get_by_text("Synthetic demo ledger", exact=False).count() == 0

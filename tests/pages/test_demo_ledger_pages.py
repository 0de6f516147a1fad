"""Spend and Budgets open on the synthetic demo ledger, marked, removable in one click, never
counted by budgets (issue 13, item 19). The clock is frozen at 2026-05-20."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.settings import REPO_ROOT
from core.spend.budgets import set_budget
from core.spend.queries import SpendFilter, totals
from tests.helpers.apptest import metrics, run_clean


@pytest.fixture
def frozen(monkeypatch, ws):
    monkeypatch.setenv("TRADEOFF_NOW", "2026-05-20T12:00:00Z")
    return ws


def test_spend_opens_on_the_demo_and_removes_it_in_one_click(frozen):
    at = run_clean(AppTest.from_file(str(REPO_ROOT / "app_pages" / "spend.py"), default_timeout=90))
    assert any("Synthetic demo ledger" in m.value for m in at.markdown)
    shown = metrics(at)
    # 30 days to 2026-05-20; the replay: 3 days x 250 requests x $0.0041 = $3.075
    assert shown["Simulated (never billed)"] == "$3.07"
    assert shown["Spend"] == "$2,357.98"  # production only: no shadow, judge or replay
    assert shown["Billable (every real dollar)"] == "$2,370.60"  # + $5.90 shadow + $6.72 judges
    assert totals(frozen)["rows"] == 0  # nobody's spend
    at.button(key="spend_demo_remove").click()
    run_clean(at)
    assert any("ledger is empty" in i.value for i in at.info)
    assert not any("Synthetic demo ledger" in m.value for m in at.markdown)
    assert totals(frozen, SpendFilter(demo=True))["rows"] == 0


def test_budgets_show_the_demo_forecast_but_never_count_it(frozen):
    set_budget(frozen, "daily", 50.0)  # the demo spends $97.19 on 2026-05-20
    at = run_clean(AppTest.from_file(str(REPO_ROOT / "app_pages" / "budgets.py"), default_timeout=90))
    assert any("Synthetic demo ledger" in m.value for m in at.markdown)
    status = next(d.value for d in at.dataframe if "spent_usd" in d.value.columns)
    assert status["spent_usd"].tolist() == [0.0] and status["level"].tolist() == [""]
    assert metrics(at)["Month to date (demo)"] == "$1,619.37"
    at.button(key="budget_demo_keep").click()
    run_clean(at)
    status = next(d.value for d in at.dataframe if "spent_usd" in d.value.columns)
    assert status["spent_usd"].round(2).tolist() == [97.19] and status["level"].tolist() == ["100%"]
    assert metrics(at)["Month to date"] == "$1,619.37"

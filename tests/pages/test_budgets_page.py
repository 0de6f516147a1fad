"""The Budgets page and the sidebar banner, driven headlessly."""
from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.settings import REPO_ROOT
from core.spend.budgets import get_timezone, list_budgets, set_budget
from core.spend.ledger import record_calls
from core.workspace import open_workspace
from tests.helpers.apptest import deltas, metrics
from tests.helpers.apptest import run_clean as _run
from tests.helpers.apptest import table_with as _table

PAGE = str(REPO_ROOT / "app_pages" / "budgets.py")


NOW = "2026-03-10T12:00:00Z"  # the clock of every test here (TRADEOFF_NOW): never near midnight


@pytest.fixture
def today_spend(workspace_path, monkeypatch):
    monkeypatch.setenv("TRADEOFF_NOW", NOW)
    ws = open_workspace(workspace_path)
    now = pd.Timestamp(NOW).tz_localize(None)
    record_calls(ws, pd.DataFrame({
        "call_id": ["a", "b", "c"], "ts": [now] * 3, "model": ["big", "big", "small"],
        "task": ["support_ticket", "lead_qualification", "support_ticket"],
        "cost_usd": [6.0, 2.0, 1.0], "source": ["live", "live", "shadow"]}))
    return ws


def test_set_a_budget_and_see_the_alert_and_ladder(today_spend):
    at = _run(AppTest.from_file(PAGE, default_timeout=120))
    assert any("No budget yet" in i.value for i in at.info)
    at.selectbox(key="budget_period").set_value("daily")
    at.number_input(key="budget_amount").set_value(10.0)
    next(b for b in at.button if b.label == "Save budget").click()
    _run(at)
    budgets = list_budgets(today_spend)
    assert budgets[["period", "amount_usd"]].values.tolist() == [["daily", 10.0]]
    # the confirmation survives the rerun that refreshes the sidebar banner
    assert [s.value for s in at.success] == ["Saved: daily budget of $10.00 (overall)."]
    status = _table(at, "spent_usd")
    assert status["spent_usd"].iloc[0] == pytest.approx(9.0) and status["level"].iloc[0] == "90%"
    # the ladder: level 2 triggered by the 90% alert, savings computed on the sample eval set
    assert any("level 2" in w.value for w in at.warning)
    ladder = _table(at, "quality cost (points)")
    assert ladder["level"].tolist() == [1, 2, 3]
    assert ladder["saves"].iloc[0] == pytest.approx(1.0)  # the shadow call
    assert ladder["triggered"].iloc[1] == "◀ today"
    assert ladder["saves (cumulative)"].is_monotonic_increasing


def test_simulations_are_not_billed_and_unknown_costs_not_zero(today_spend):
    now = pd.Timestamp(NOW).tz_localize(None)
    record_calls(today_spend, pd.DataFrame({
        "call_id": ["sim", "unpriced"], "ts": [now] * 2, "model": ["big", "mystery"],
        "cost_usd": [50.0, None], "source": ["simulation", "live"]}))
    set_budget(today_spend, "monthly", 1_000_000.0)
    at = _run(AppTest.from_file(PAGE, default_timeout=120))
    # billable: $6 + $2 live and the $1 shadow call; the $50 replay is apart, never billed
    status = _table(at, "spent_usd")
    assert status["spent_usd"].tolist() == [pytest.approx(9.0)]
    assert status["unknown_cost_rows"].tolist() == [1]
    assert metrics(at)["Month to date"] == "$9.00"
    assert deltas(at)["Month to date"][0] == "+ unknown (1 row)"  # beside it, never hidden
    assert metrics(at)["Simulated (never billed)"] == "$50.00"
    # far under budget: the delta falls, in green
    text, arrow, colour = deltas(at)["Monthly budget"]
    assert text.startswith("-$") and text.endswith("under at month end") and (arrow, colour) == ("DOWN", "GREEN")
    set_budget(today_spend, "monthly", 1.0)
    at = _run(AppTest.from_file(PAGE, default_timeout=120))
    text, arrow, colour = deltas(at)["Monthly budget"]
    assert text.startswith("+$") and text.endswith("over at month end") and (arrow, colour) == ("UP", "RED")


def test_bad_amount_is_refused_in_the_page(today_spend):
    at = _run(AppTest.from_file(PAGE, default_timeout=120))
    at.number_input(key="budget_amount").set_value(0.0)
    next(b for b in at.button if b.label == "Save budget").click()
    _run(at)
    assert any("positive number" in e.value for e in at.error)
    assert list_budgets(today_spend).empty


def test_banner_shows_on_every_page(today_spend):
    set_budget(today_spend, "daily", 9.0)  # 100%
    set_budget(today_spend, "monthly", 12.0, task="support_ticket")  # $7 of $12: below 70%
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    _run(at)
    texts = [e.value for e in at.sidebar.error]
    assert any("100% budget alert" in t and "Daily budget (overall)" in t for t in texts)
    assert not any("support_ticket" in t for t in texts + [w.value for w in at.sidebar.warning])
    # (AppTest's switch_page runs the page file alone, without app.py's sidebar: the browser
    # test checks the banner on the Spend and Budgets pages)


def test_a_timezone_for_the_workspace_and_for_one_budget(today_spend):
    # the calls were made at 12:00 UTC on March 10; in Tokyo (UTC+9) the clock says 21:00, so
    # they are today's there too; in Honolulu (UTC-10) it is 02:00 on the same day
    at = _run(AppTest.from_file(PAGE, default_timeout=120))
    assert at.selectbox(key="workspace_timezone").value == "UTC"
    at.selectbox(key="workspace_timezone").set_value("Asia/Tokyo")
    at.button(key="workspace_timezone_save").click()
    _run(at)
    assert get_timezone(today_spend) == "Asia/Tokyo"
    assert "Saved: budget days now start at midnight in Asia/Tokyo." in [s.value for s in at.success]
    at.selectbox(key="budget_period").set_value("weekly")
    at.selectbox(key="budget_timezone").set_value("Pacific/Honolulu")
    at.number_input(key="budget_amount").set_value(10.0)
    next(b for b in at.button if b.label == "Save budget").click()
    _run(at)
    assert list_budgets(today_spend)["timezone"].tolist() == ["Pacific/Honolulu"]
    status = _table(at, "spent_usd")
    # $6 + $2 + the $1 shadow call this week (Monday March 9) in Honolulu
    assert status[["timezone", "spent_usd", "level"]].values.tolist() == [["Pacific/Honolulu", 9.0, "90%"]]
    assert "Days and the month counted in Asia/Tokyo (today there: 2026-03-10)." in [c.value for c in at.caption]

"""The synthetic demo ledger (issue 13, item 19): seeded once into an empty ledger, never
counted as anyone's spend by budgets, alerts or default views, removable and keepable."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from core.spend.budgets import alert_status, budget_status, forecast_month_end, set_budget
from core.spend.demo import demo_frame, demo_status, keep_demo, remove_demo, seed_demo
from core.spend.ledger import record_calls
from core.spend.queries import SpendFilter, totals

TODAY = dt.date(2026, 5, 20)
WINDOW = SpendFilter(date_from="2026-04-21", date_to="2026-05-20", demo=True)


def test_demo_split_by_hand(ws):
    assert seed_demo(ws, today=TODAY) == len(demo_frame(TODAY))

    def scoped(scope):
        return totals(ws, SpendFilter(**{**WINDOW.__dict__, "scope": scope}))["cost_usd"]

    assert scoped("simulation") == pytest.approx(3 * 250 * 0.0041)  # the last 3 days' replay
    # the weekly judge pass on days 17, 24, 31 and 38 of 42 (the last 30 days hold four)
    assert scoped("evaluation") == pytest.approx(4 * 400 * 0.0042)
    assert scoped("billable") == pytest.approx(scoped("all") - 3.075)  # simulation never billed
    assert totals(ws)["rows"] == 0  # left out of every view unless asked for


def test_budgets_and_alerts_never_count_the_demo_unless_kept(ws):
    set_budget(ws, "daily", 50.0)
    seed_demo(ws, today=TODAY)
    frame = demo_frame(TODAY)
    today_billable = frame[(frame["ts"].dt.date == TODAY) & (frame["source"] != "simulation")]["cost_usd"].sum()
    assert today_billable > 50  # the demo alone would raise a 100% alert
    assert budget_status(ws, TODAY)["spent_usd"].tolist() == [0.0]
    assert alert_status(ws, TODAY) == []
    assert forecast_month_end(ws, TODAY).month_to_date == 0.0
    assert forecast_month_end(ws, TODAY, demo=True).month_to_date > 0
    keep_demo(ws)
    assert demo_status(ws).state == "kept" and not demo_status(ws).shown
    assert budget_status(ws, TODAY)["spent_usd"].iloc[0] == pytest.approx(today_billable)
    assert [a.level for a in alert_status(ws, TODAY)] == [100]


def test_seeded_once_only_into_an_empty_ledger_and_removed_for_good(ws):
    record_calls(ws, pd.DataFrame({"call_id": ["mine"], "ts": [pd.Timestamp("2026-05-19")],
                                   "model": ["m"], "cost_usd": [1.25]}))
    assert seed_demo(ws, today=TODAY) == 0 and demo_status(ws).state is None
    ws.cursor().execute("delete from ledger")
    assert seed_demo(ws, today=TODAY) > 0
    record_calls(ws, pd.DataFrame({"call_id": ["mine2"], "ts": [pd.Timestamp("2026-05-19")],
                                   "model": ["m"], "cost_usd": [1.25]}))
    status = demo_status(ws)
    assert status.shown and status.own_rows == 1
    remove_demo(ws)
    assert totals(ws, SpendFilter(demo=True))["cost_usd"] == 1.25  # only the user's own row
    assert seed_demo(ws, today=TODAY) == 0  # removed stays removed
    assert demo_status(ws).state == "removed"

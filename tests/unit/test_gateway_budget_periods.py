"""Gateway budgets count the days of the workspace's timezone (core.spend.budgets.set_timezone)."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from core.gateway.budgets import budget_state, set_budget
from core.spend.budgets import set_timezone
from core.spend.ledger import record_calls


def test_a_new_york_day_runs_from_05_00_to_05_00_utc_in_december(ws):
    set_timezone(ws, "America/New_York")  # UTC-5 in December
    set_budget(ws, "team", "daily", 10.0, subject="ml", action="stop")
    record_calls(ws, pd.DataFrame({
        "call_id": ["late-dec-1", "early-dec-2", "other-team"],
        "ts": [pd.Timestamp("2026-12-02 04:30"), pd.Timestamp("2026-12-02 06:00"),
               pd.Timestamp("2026-12-02 06:00")],  # 23:30 on Dec 1 in New York; 01:00 on Dec 2
        "model": ["big"] * 3, "cost_usd": [4.0, 2.5, 7.0], "source": ["gateway"] * 3,
        "project": ["ml", "ml", "sales"]}))
    [state] = budget_state(ws, today=dt.date(2026, 12, 2))
    assert state["spent_usd"] == 2.5 and state["since"] == "2026-12-02"
    assert state["resets_at"] == "2026-12-03T05:00:00Z" and state["timezone"] == "America/New_York"

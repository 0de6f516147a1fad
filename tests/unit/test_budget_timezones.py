"""Budgets count days in a timezone, at a frozen clock: around midnight in a zone that is not
UTC, on a daylight-saving day, per budget and per workspace; the frozen clock itself; the
windows of time that mix whole UTC days (rollup) and part-days (ledger)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from core.errors import InputError
from core.spend import clock
from core.spend.budgets import (
    MIGRATIONS,
    alert_status,
    budget_spend,
    budget_status,
    forecast_month_end,
    get_timezone,
    list_budgets,
    set_budget,
    set_timezone,
)
from core.spend.ledger import record_calls
from core.spend.queries import SpendFilter, spend_in_windows
from core.spend.reports import report_data
from core.workspace import Workspace

UTC = dt.UTC


def calls(ws, rows):
    """rows: (UTC time 'YYYY-MM-DD HH:MM', cost[, task[, source]])."""
    frame = pd.DataFrame([{"call_id": f"c{i}", "ts": pd.Timestamp(r[0]), "model": "m", "cost_usd": r[1],
                           "task": r[2] if len(r) > 2 else None,
                           "source": r[3] if len(r) > 3 else "live"} for i, r in enumerate(rows)])
    record_calls(ws, frame)


def freeze(monkeypatch, instant: str) -> None:
    monkeypatch.setenv("TRADEOFF_NOW", instant)


def test_the_frozen_clock(monkeypatch):
    freeze(monkeypatch, "2026-03-10T00:04:00Z")
    assert clock.now() == dt.datetime(2026, 3, 10, 0, 4, tzinfo=UTC)
    freeze(monkeypatch, "2026-03-10T09:04:00+09:00")  # any offset, returned in UTC
    assert clock.now() == dt.datetime(2026, 3, 10, 0, 4, tzinfo=UTC)
    assert clock.local_today("UTC") == dt.date(2026, 3, 10)
    assert clock.local_today("America/New_York") == dt.date(2026, 3, 9)  # 20:04 the day before
    freeze(monkeypatch, "yesterday")
    with pytest.raises(InputError, match="TRADEOFF_NOW: expected an ISO 8601 time"):
        clock.now()
    monkeypatch.delenv("TRADEOFF_NOW")
    assert abs(clock.now() - dt.datetime.now(UTC)) < dt.timedelta(minutes=5)


def test_a_daily_budget_around_midnight_in_tokyo(ws, monkeypatch):
    # Tokyo is UTC+9 (no daylight saving): its March 11 starts at 15:00 UTC on March 10.
    calls(ws, [("2026-03-10 14:58", 1.0),    # 23:58 on March 10 in Tokyo
               ("2026-03-10 15:00", 2.0),    # 00:00 on March 11
               ("2026-03-10 15:03", 4.0)])   # 00:03 on March 11
    set_timezone(ws, "Asia/Tokyo")
    set_budget(ws, "daily", 8.0)
    freeze(monkeypatch, "2026-03-10T15:05:00Z")  # 00:05 in Tokyo
    status = budget_status(ws)
    # today in Tokyo is March 11: $2 + $4 = $6 of $8 = 75% (a UTC day would count all $7)
    assert status[["since", "spent_usd", "level", "timezone"]].values.tolist() == [
        [dt.date(2026, 3, 11), 6.0, 70, "Asia/Tokyo"]]
    alert, = alert_status(ws)
    assert alert.message == "Daily budget (overall) at 75%: $6.00 of $8.00 since 2026-03-11 (Asia/Tokyo)"
    # one minute before Tokyo's midnight only the first call is today's
    freeze(monkeypatch, "2026-03-10T14:59:00Z")
    assert budget_status(ws)[["since", "spent_usd"]].values.tolist() == [[dt.date(2026, 3, 10), 1.0]]
    # the same calls in UTC days: all three are on March 10
    set_timezone(ws, "UTC")
    assert budget_status(ws)[["since", "spent_usd"]].values.tolist() == [[dt.date(2026, 3, 10), 7.0]]


def test_a_budget_with_its_own_timezone_on_a_daylight_saving_day(ws, monkeypatch):
    # New York moves to summer time on 2026-03-08: that local day runs from 05:00 UTC (EST,
    # UTC-5) to 04:00 UTC the next day (EDT, UTC-4), 23 hours.
    calls(ws, [("2026-03-08 04:59", 1.0, "ads"),   # 23:59 on March 7 in New York
               ("2026-03-08 05:00", 2.0, "ads"),   # 00:00 on March 8
               ("2026-03-09 03:59", 4.0, "ads"),   # 23:59 on March 8 (EDT)
               ("2026-03-09 04:00", 8.0, "ads"),   # 00:00 on March 9
               ("2026-03-09 02:00", 16.0, "support")])
    set_budget(ws, "daily", 100.0)                                          # the workspace's: UTC
    set_budget(ws, "daily", 10.0, task="ads", timezone="America/New_York")  # its own
    freeze(monkeypatch, "2026-03-09T03:30:00Z")  # 23:30 on March 8 in New York
    assert list_budgets(ws)["timezone"].tolist() == ["UTC", "America/New_York"]  # overall, ads
    status = budget_status(ws)
    # UTC March 9: $4 + $8 + $16; New York March 8 for ads: $2 + $4
    assert status[["since", "spent_usd", "timezone"]].values.tolist() == [
        [dt.date(2026, 3, 9), 28.0, "UTC"], [dt.date(2026, 3, 8), 6.0, "America/New_York"]]
    assert status["task"].iloc[1] == "ads" and pd.isna(status["level"].iloc[1])
    ads = budget_spend(ws, "daily", task="ads")
    assert (ads.today, ads.start_utc, ads.end_utc) == (
        dt.date(2026, 3, 8), dt.datetime(2026, 3, 8, 5), dt.datetime(2026, 3, 9, 4))
    assert (ads.spent_usd, ads.amount_usd, ads.level) == (6.0, 10.0, None)
    # at an instant given by the caller (a gateway's request), without a frozen clock
    monkeypatch.delenv("TRADEOFF_NOW")
    later = budget_spend(ws, "daily", task="ads", at=dt.datetime(2026, 3, 9, 4, 0, tzinfo=UTC))
    assert (later.today, later.spent_usd) == (dt.date(2026, 3, 9), 8.0)
    # a budget that is not set: counted in the workspace's timezone, no amount
    none = budget_spend(ws, "weekly", task="support", at=dt.datetime(2026, 3, 9, 4, 0, tzinfo=UTC))
    assert (none.timezone, none.since, none.spent_usd, none.amount_usd, none.level) == (
        "UTC", dt.date(2026, 3, 9), 16.0, None, None)


def test_the_month_turns_at_midnight_in_the_budgets_timezone(ws, monkeypatch):
    calls(ws, [("2026-03-31 14:00", 3.0),    # 23:00 on March 31 in Tokyo
               ("2026-03-31 15:30", 5.0)])   # 00:30 on April 1 in Tokyo
    set_budget(ws, "monthly", 100.0, timezone="Asia/Tokyo")
    freeze(monkeypatch, "2026-03-31T16:00:00Z")  # April 1 in Tokyo, still March 31 in UTC
    fc = forecast_month_end(ws)
    assert (fc.timezone, fc.month_start, fc.today, fc.month_to_date) == (
        "Asia/Tokyo", dt.date(2026, 4, 1), dt.date(2026, 4, 1), 5.0)
    assert fc.remaining_days == 29 and fc.forecast == pytest.approx(5.0 + 5.0 * 29)
    # the report's budget table, as of now, counts the same month
    budgets = report_data(ws, "2026-03-01", "2026-04-30")["budgets"]
    assert budgets[["since", "spent_usd"]].values.tolist() == [[dt.date(2026, 4, 1), 5.0]]


def test_timezones_are_checked_and_kept(ws):
    assert get_timezone(ws) == "UTC"
    with pytest.raises(InputError, match="expected an IANA name"):
        set_timezone(ws, "Mars/Olympus_Mons")
    with pytest.raises(InputError, match="expected an IANA name"):
        set_budget(ws, "daily", 5.0, timezone="CEST+2")
    assert set_timezone(ws, " Europe/Paris ") == "Europe/Paris"
    assert set_timezone(ws, "Asia/Kolkata") == "Asia/Kolkata"  # replaced, not added
    assert get_timezone(ws) == "Asia/Kolkata"
    assert ws.cursor().execute("select count(*) from budget_settings").fetchone()[0] == 1


def test_budgets_of_an_older_workspace_follow_the_workspace_timezone(tmp_path):
    path = tmp_path / "older.duckdb"
    old = Workspace(path)
    old.ensure("budgets", MIGRATIONS[:1])  # the v1 schema: no timezone anywhere
    old.cursor().execute("insert into budgets (task, period, amount_usd) values (null, 'daily', 5.0)")
    old.close()
    ws = Workspace(path)  # this release: v2 is applied on first use
    try:
        assert list_budgets(ws)[["period", "amount_usd", "timezone"]].values.tolist() == [
            ["daily", 5.0, "UTC"]]
        set_timezone(ws, "Europe/Paris")
        assert list_budgets(ws)["timezone"].tolist() == ["Europe/Paris"]
    finally:
        ws.close()


def test_windows_mix_whole_utc_days_and_part_days_exactly(ws):
    rows = [("2026-03-09 14:59", 1.0, "a"), ("2026-03-09 15:00", 2.0, "a"),
            ("2026-03-10 12:00", 4.0, "b"), ("2026-03-11 00:00", 8.0, "a"),
            ("2026-03-12 14:59", 16.0, "b"), ("2026-03-12 15:00", 32.0, "a"),
            ("2026-03-10 13:00", 64.0, "a", "simulation")]
    calls(ws, rows)
    w = {"tokyo": (dt.datetime(2026, 3, 9, 15), dt.datetime(2026, 3, 12, 15)),   # 3 Tokyo days
         "utc": (dt.datetime(2026, 3, 10), dt.datetime(2026, 3, 12)),            # 2 whole UTC days
         "hour": (dt.datetime(2026, 3, 10, 12), dt.datetime(2026, 3, 10, 13))}   # [12:00, 13:00)
    got = spend_in_windows(ws, w, SpendFilter(scope="billable"), dims=("task",))
    by = {(r.key, r.task): r.cost_usd for r in got.itertuples()}
    # tokyo: 2 + 4 + 8 + 16 (not 1, not 32; 64 is a simulation); utc: 4 + 8; hour: 4
    assert by == {("tokyo", "a"): 10.0, ("tokyo", "b"): 20.0, ("utc", "a"): 8.0, ("utc", "b"): 4.0,
                  ("hour", "b"): 4.0}
    with pytest.raises(InputError, match="Unknown spend dimension"):
        spend_in_windows(ws, w, dims=("day",))

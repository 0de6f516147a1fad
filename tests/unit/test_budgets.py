"""Budgets: alert levels at their exact boundaries, the month-end forecast, the throttling ladder."""
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.evaluation.loading import load_csv
from core.routing.policies import Cascade, SingleModel
from core.spend.budgets import (
    alert_level,
    alert_status,
    budget_status,
    delete_budget,
    forecast_month_end,
    list_budgets,
    period_start,
    set_budget,
    set_task_urgency,
)
from core.spend.ledger import record_calls
from core.spend.throttle import project_costs, throttle_ladder

TODAY = dt.date(2026, 3, 10)  # a Tuesday


def spend(ws, amounts, **extra):
    """One ledger row per (day, cost[, task, source, experiment])."""
    frame = pd.DataFrame(amounts)
    frame["call_id"] = [f"c{i}-{extra.get('tag', '')}" for i in range(len(frame))]
    frame["model"] = frame.get("model", "m")
    record_calls(ws, frame)


@pytest.mark.parametrize("spent,level", [(69.99, None), (70, 70), (89.99, 70), (90, 90),
                                         (99.99, 90), (100, 100), (250, 100), (0, None)])
def test_alert_level_boundaries(spent, level):
    assert alert_level(spent, 100) == level


def test_boundaries_survive_binary_rounding():
    assert alert_level(0.7 * 0.3, 0.3) == 70  # 0.21 is not exactly 0.7 x 0.3 in binary
    assert alert_level(0.9 * 0.7, 0.7) == 90
    assert alert_level(0.3, 0.3) == 100
    assert alert_level(0.2099999, 0.3) is None


@pytest.mark.parametrize("spent,level", [(69.99, None), (70.0, 70), (89.99, 70), (90.0, 90),
                                         (99.99, 90), (100.0, 100)])
def test_alert_status_from_the_ledger(ws, spent, level):
    set_budget(ws, "daily", 100)
    spend(ws, {"ts": [pd.Timestamp(TODAY) + pd.Timedelta(hours=9)], "cost_usd": [spent]})
    alerts = alert_status(ws, TODAY)
    assert [a.level for a in alerts] == ([level] if level else [])
    if level:
        assert alerts[0].period == "daily" and alerts[0].task is None
        assert f"{spent:,.2f}" in alerts[0].message


def test_periods_tasks_and_what_counts(ws):
    assert period_start("weekly", TODAY) == dt.date(2026, 3, 9)
    assert period_start("monthly", TODAY) == dt.date(2026, 3, 1)
    days = [dt.datetime(2026, 3, d, 12) for d in (1, 8, 9, 10, 10, 10)]
    spend(ws, {"ts": days, "cost_usd": [100.0, 50.0, 20.0, 5.0, 3.0, 1000.0],
               "task": ["a", "a", "a", "a", "b", "a"],
               "source": ["live", "import", "shadow", "live", "live", "simulation"]})
    set_budget(ws, "daily", 10)
    set_budget(ws, "weekly", 30)
    set_budget(ws, "monthly", 200, task="a")
    set_budget(ws, "monthly", 1000)
    status = budget_status(ws, TODAY).set_index(["period", "task"], drop=False)
    # simulations never count; shadow calls are real money and do
    assert status.loc[("daily", None), "spent_usd"] == pytest.approx(8.0)
    assert status.loc[("weekly", None), "spent_usd"] == pytest.approx(28.0)  # Mon 9 + Tue 10
    assert status.loc[("monthly", "a"), "spent_usd"] == pytest.approx(175.0)
    levels = {(a.period, a.task): a.level for a in alert_status(ws, TODAY)}
    assert levels == {("daily", None): 70, ("weekly", None): 90, ("monthly", "a"): 70}
    set_budget(ws, "daily", 8)  # replaces, never duplicates
    assert len(list_budgets(ws)) == 4
    assert alert_status(ws, TODAY)[0].level == 100
    delete_budget(ws, "daily")
    assert len(list_budgets(ws)) == 3


def test_bad_budgets_are_refused(ws):
    for period, amount in [("hourly", 10), ("daily", -1), ("daily", "ten"), ("daily", float("nan"))]:
        with pytest.raises(InputError):
            set_budget(ws, period, amount)


def test_forecast_hand_case(ws):
    days = [dt.datetime(2026, 3, d, 8) for d in (1, 2, 3, 4)]
    spend(ws, {"ts": days, "cost_usd": [4.0, 8.0, 12.0, 16.0]})
    set_budget(ws, "monthly", 300)
    f = forecast_month_end(ws, dt.date(2026, 3, 4))
    sd = math.sqrt(((4 - 10) ** 2 + (8 - 10) ** 2 + (12 - 10) ** 2 + (16 - 10) ** 2) / 3)
    assert (f.month_to_date, f.daily_mean, f.remaining_days, f.window_days) == (40.0, 10.0, 27, 4)
    assert f.forecast == pytest.approx(40 + 10 * 27)
    assert f.daily_sd == pytest.approx(sd)
    assert f.high - f.forecast == pytest.approx(1.96 * sd * math.sqrt(27))
    assert f.over_budget_by == pytest.approx(10.0)
    flat = forecast_month_end(ws, dt.date(2026, 3, 1))  # one day of history: no interval
    assert flat.forecast == pytest.approx(4 + 4 * 30) and flat.low is None


LADDER_CSV = b"""item_id,model,task,score,cost_usd,confidence,urgent
1,small,support,1,0.001,0.9,true
1,big,support,1,0.01,1,true
2,small,support,0,0.001,0.2,true
2,big,support,1,0.01,1,true
3,small,leads,1,0.001,0.9,false
3,big,leads,1,0.01,1,false
4,small,leads,1,0.001,0.9,false
4,big,leads,1,0.01,1,false
"""


def test_throttling_ladder_on_a_small_eval_set(ws):
    es = load_csv(LADDER_CSV, name="ladder")
    at = pd.Timestamp(TODAY) + pd.Timedelta(hours=10)
    spend(ws, {"ts": [at] * 4, "cost_usd": [10.0, 5.0, 2.0, 1.0],
               "task": ["support", "leads", "support", "support"],
               "source": ["live", "live", "shadow", "live"], "experiment": [None, None, None, "exp1"]})
    set_budget(ws, "daily", 20)  # $18 spent: 90% -> level 2
    set_task_urgency(ws, "leads", False)
    ladder = throttle_ladder(ws, es, SingleModel("big"), SingleModel("small"), TODAY)
    assert ladder.triggered == 2 and ladder.spend_usd == pytest.approx(18.0)
    assert (ladder.current_quality, ladder.cheaper_quality) == (1.0, 0.75)
    l1, l2, l3 = ladder.levels
    assert (l1.saved_usd, l1.quality_cost) == (pytest.approx(3.0), 0.0)
    assert l2.saved_usd == pytest.approx(15.0 * 0.9)  # small costs 10% of big per item
    assert l2.quality_cost == pytest.approx(0.25)
    assert l3.saved_usd == pytest.approx(5.0 * 0.1)  # leads' spend, already routed cheaper
    assert l3.quality == pytest.approx(0.25)  # items 3, 4 paused (score 0), item 2 wrong
    assert l3.cumulative_saved_usd == pytest.approx(17.0)


def test_ladder_with_a_cascade_and_eval_set_urgency(ws):
    es = load_csv(LADDER_CSV, name="ladder")
    spend(ws, {"ts": [pd.Timestamp(TODAY)], "cost_usd": [10.0], "task": ["support"]})
    cascade = Cascade(["small", "big"], [0.5])  # item 2 escalates and pays for both models
    ladder = throttle_ladder(ws, es, SingleModel("big"), cascade, TODAY)
    assert ladder.triggered == 0
    assert ladder.cheaper_cost_per_item == pytest.approx((3 * 0.001 + 0.011) / 4)
    assert ladder.levels[1].saved_usd == pytest.approx(10.0 * 0.65)
    assert ladder.levels[1].quality_cost == pytest.approx(0.0)  # the escalation fixes item 2
    # no task flagged: the eval set's share of non-urgent items (2 of 4) stands in
    assert ladder.levels[2].saved_usd == pytest.approx(10.0 * 0.5 * 0.35)


def test_projections_against_the_frontier_baseline():
    es = load_csv(LADDER_CSV, name="ladder")
    assert es.quality_order[0] == "big"
    frame = project_costs(es, SingleModel("small"), SingleModel("big"),
                          {"support": 1000, "leads": 500}).set_index("task")
    assert frame.loc["support", "current_daily"] == pytest.approx(1.0)
    assert frame.loc["support", "baseline_daily"] == pytest.approx(10.0)
    assert frame.loc["Total", "savings_daily"] == pytest.approx(15.0 - 1.5)
    assert frame.loc["Total", "savings_annual"] == pytest.approx(13.5 * 365)
    assert frame.loc["leads", "current_monthly"] == pytest.approx(0.5 * 365 / 12)
    with pytest.raises(InputError, match="no items"):
        project_costs(es, SingleModel("small"), SingleModel("big"), {"billing": 10})


def test_projections_show_the_quality_beside_the_saving():
    """Issue 13 item 15: a yearly saving is never shown without the quality it costs."""
    es = load_csv(LADDER_CSV, name="ladder")
    frame = project_costs(es, SingleModel("small"), SingleModel("big"),
                          {"support": 1000, "leads": 500}).set_index("task")
    tasks = es.tasks.astype(str)
    for model, side in (("small", "current"), ("big", "baseline")):
        score = es.score[:, es.model_index(model)]
        per_task = {t: float(np.nanmean(score[tasks == t])) for t in ("support", "leads")}
        assert frame.loc["support", f"{side}_quality"] == pytest.approx(per_task["support"])
        # the total weighs each task by its requests per day: 1000 support, 500 leads
        assert frame.loc["Total", f"{side}_quality"] == pytest.approx(
            (1000 * per_task["support"] + 500 * per_task["leads"]) / 1500)

"""Shadow comparison on a hand-made eval set, and shadow calls kept apart in the ledger."""
from __future__ import annotations

import numpy as np
import pytest

from core.evaluation.loading import load_csv
from core.experiments.shadow import compare, project_savings, shadow_calls
from core.experiments.store import run_shadow
from core.routing.policies.base import outcome_from_choice

LABELS = "abcdef"
BIG = "abcdex"      # wrong on item 6
SMALL = "abcyzf"    # wrong on items 4 and 5
SMALL_CONF = [0.9, 0.9, 0.9, 0.4, 0.3, 0.95]


def _csv() -> bytes:
    lines = ["item_id,task,label,model,prediction,confidence,cost_usd,latency_ms,input_tokens,output_tokens"]
    for i in range(6):
        task = "faq" if i < 3 else "triage"
        lines.append(f"i{i + 1},{task},{LABELS[i]},big,{BIG[i]},0.99,0.01,800,100,5")
        lines.append(f"i{i + 1},{task},{LABELS[i]},small,{SMALL[i]},{SMALL_CONF[i]},0.001,200,100,5")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def es():
    return load_csv(_csv(), name="tiny.csv")


def _single(es, model):
    j = es.model_index(model)
    tried = np.zeros((es.n_items, es.n_models), dtype=bool)
    tried[:, j] = True
    return outcome_from_choice(es, tried, np.full(es.n_items, j))


def test_agreement_quality_cost_and_disagreements_by_hand(es):
    res = compare(es, _single(es, "big"), _single(es, "small"), volume=1000)
    assert (res.n_compared, res.n_agree) == (6, 3)
    assert res.agreement_rate == 0.5
    assert res.quality.diff == pytest.approx((4 - 5) / 6)
    assert res.quality.test == "McNemar"
    assert res.quality.p_value == pytest.approx(1.0)  # 2 vs 1 discordant: exact binomial p = 1
    assert res.cost.diff == pytest.approx(0.001 - 0.01)
    assert res.latency.diff == pytest.approx(200 - 800)
    assert res.disagreements["item_id"].tolist() == ["i4", "i5", "i6"]
    row = res.disagreements.iloc[0]
    assert (row.production_answer, row.candidate_answer) == ("d", "y")
    assert (row.production_score, row.candidate_score) == (1.0, 0.0)
    assert res.projection["monthly_savings"] == pytest.approx(9.0)
    assert res.projection["monthly_cost_production"] == pytest.approx(10.0)
    assert res.projection["savings_share"] == pytest.approx(0.9)
    faq = res.per_task.set_index("task").loc["faq"]
    assert faq.agreement == 1.0 and faq.n == 3
    # 5/6 vs 4/6: a drop of 1/6 is beyond a 0.02 tolerance -> the quality guardrail fires
    assert res.verdict.decision == "no-go"


def test_same_policy_agrees_everywhere(es):
    res = compare(es, _single(es, "big"), _single(es, "big"))
    assert res.agreement_rate == 1.0 and res.disagreements.empty
    assert res.quality.diff == 0 and res.quality.p_value == 1.0
    assert res.projection == {}


def test_projection_interval_follows_the_cost_interval():
    from core.evaluation.stats import Comparison

    c = Comparison("cost", 0.01, 0.004, -0.006, -0.007, -0.005, 0.0, "paired t-test", 10, 10)
    p = project_savings(c, 50_000)
    assert p["monthly_savings"] == pytest.approx(300.0)
    assert (p["monthly_savings_low"], p["monthly_savings_high"]) == pytest.approx((250.0, 350.0))


def test_replayed_shadow_is_recorded_as_simulation_never_billed(es, ws):
    from core.spend.budgets import budget_status, set_budget
    from core.spend.queries import SpendFilter, totals

    cascade = {"kind": "cascade", "models": ["small", "big"], "thresholds": [0.5],
               "signal": {"kind": "confidence"}}
    res, added = run_shadow(es, {"kind": "single", "model": "big"}, cascade, volume=1000, ws=ws,
                            name="try-cascade")
    # small answers every item; items 4 and 5 (confidence < 0.5) also call big
    assert added == 6 + 2
    rows = ws.cursor().execute(
        "select source, experiment, variant, count(*), sum(cost_usd) from ledger group by all").fetchall()
    assert rows == [("simulation", "try-cascade", "candidate", 8, pytest.approx(6 * 0.001 + 2 * 0.01))]
    # a replay on an eval set makes no call: it is neither production, shadow nor billable spend
    assert totals(ws, SpendFilter(scope="simulation"))["cost_usd"] == pytest.approx(0.026)
    for scope in ("production", "shadow", "billable"):
        assert totals(ws, SpendFilter(scope=scope))["cost_usd"] == 0.0, scope
    set_budget(ws, "daily", 0.01)  # the replay's $0.026 would be 260% of it if it were billed
    assert budget_status(ws)["spent_usd"].tolist() == [0.0]
    _, again = run_shadow(es, {"kind": "single", "model": "big"}, cascade, ws=ws, name="try-cascade")
    assert again == 0
    # items 4-5 escalate to big (same answer as production); small keeps 1-3 (agree) and 6 (f vs x)
    assert res.agreement_rate == pytest.approx(5 / 6)
    assert res.disagreements["item_id"].tolist() == ["i6"]


def test_shadow_call_rows_carry_item_model_and_tokens(es):
    frame = shadow_calls(es, _single(es, "small"), "exp")
    assert len(frame) == 6
    assert set(frame["model"]) == {"small"} and set(frame["source"]) == {"simulation"}
    assert frame["request_id"].tolist() == [f"i{i}" for i in range(1, 7)]
    assert frame["call_id"].is_unique and frame["input_tokens"].sum() == 600
    assert frame["cost_usd"].sum() == pytest.approx(0.006)

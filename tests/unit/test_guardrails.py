"""Guardrails fire strictly above their thresholds (``>``), not at them and not just below."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.evaluation.stats import Comparison
from core.experiments.ab import analyze
from core.experiments.guardrails import Guardrails, above, check_guardrails, decide

RULES = Guardrails(error_ratio=1.5, latency_ratio=1.5, quality_drop=0.02)


def _fired(**kw) -> dict[str, bool]:
    base = dict(error_rate=(0.0, 0.0), p95_ms=(100.0, 100.0), quality=(0.9, 0.9))
    base.update(kw)
    return {c.name: c.fired for c in check_guardrails(RULES, **base)}


@pytest.mark.parametrize("candidate, fires", [(0.0299, False), (0.03, False), (0.0301, True)])
def test_error_rate_threshold_is_1_5x_baseline(candidate, fires):
    # baseline 2% -> threshold 3% (1.5 * 0.02 is 0.030000000000000002 in floats: still "at")
    assert _fired(error_rate=(0.02, candidate))["error rate"] is fires


@pytest.mark.parametrize("candidate, fires", [(149.99, False), (150.0, False), (150.01, True)])
def test_p95_latency_threshold_is_1_5x_baseline(candidate, fires):
    assert _fired(p95_ms=(100.0, candidate))["p95 latency"] is fires


@pytest.mark.parametrize("candidate, fires", [(0.8801, False), (0.88, False), (0.8799, True)])
def test_quality_drop_threshold_is_the_tolerance(candidate, fires):
    # 0.9 - 0.88 = 0.020000000000000018 in floats: counts as exactly at the threshold
    assert _fired(quality=(0.9, candidate))["quality drop"] is fires


def test_quality_drop_defaults_to_tolerance_and_unmeasured_rules_do_not_fire():
    checks = check_guardrails(Guardrails(), error_rate=(0.0, 0.0), p95_ms=(float("nan"), 5.0),
                              quality=(0.9, 0.851), tolerance=0.05)
    by = {c.name: c for c in checks}
    assert by["quality drop"].threshold == 0.05 and by["quality drop"].fired is False
    assert by["p95 latency"].evaluated is False and by["p95 latency"].fired is False
    assert above(1.0, 0.5) and not above(0.5, 0.5) and not above(float("nan"), 0.0)


def _frame(n: int, correct: tuple[int, int], errors: tuple[int, int] = (0, 0),
           latency: tuple[float, float] = (100.0, 100.0), cost: tuple[float, float] = (0.01, 0.002)):
    """n control then n candidate items with exact counts of correct answers and errors."""
    rows = []
    for arm, k, e, lat, c in zip(("control", "candidate"), correct, errors, latency, cost):
        score = np.r_[np.ones(k), np.zeros(n - k)]
        err = np.r_[np.ones(e, dtype=bool), np.zeros(n - e, dtype=bool)]
        rows.append(pd.DataFrame({"unit": [f"{arm}-{i}" for i in range(n)], "arm": arm,
                                  "item_id": [f"{arm}-{i}" for i in range(n)], "task": "t",
                                  "score": score, "cost": c, "latency_ms": lat, "error": err}))
    return pd.concat(rows, ignore_index=True)


def _checks(frame, tolerance=0.02):
    res = analyze(frame, tolerance=tolerance, guardrails=RULES, stages=())
    return {c.name: c.fired for c in res.guardrails}, res


def test_guardrails_on_arm_data_fire_exactly_past_the_threshold():
    # errors: control 2/100; candidate 3/100 is at 1.5x (no), 4/100 above (fires)
    assert _checks(_frame(100, (90, 90), errors=(2, 3)))[0]["error rate"] is False
    assert _checks(_frame(100, (90, 90), errors=(2, 4)))[0]["error rate"] is True
    # quality: control 90/100; candidate 88/100 drops exactly the tolerance, 87/100 beyond it
    assert _checks(_frame(100, (90, 88)))[0]["quality drop"] is False
    assert _checks(_frame(100, (90, 87)))[0]["quality drop"] is True
    # latency: constant arms make p95 exact
    assert _checks(_frame(100, (90, 90), latency=(200.0, 300.0)))[0]["p95 latency"] is False
    assert _checks(_frame(100, (90, 90), latency=(200.0, 300.5)))[0]["p95 latency"] is True


def test_fired_guardrail_means_no_go_with_the_trigger_named():
    fired, res = _checks(_frame(400, (360, 360), errors=(4, 8)))
    assert fired["error rate"]
    assert res.verdict.decision == "no-go"
    assert "error rate" in res.verdict.reason


def _cmp(diff, low, high, control=0.9, metric="quality"):
    return Comparison(metric, control, control + diff, diff, low, high, 0.5, "t", 100, 100)


def test_verdict_rules():
    q_ok = _cmp(0.0, -0.01, 0.01)
    saves = _cmp(-0.004, -0.005, -0.003, control=0.01, metric="cost")
    costs_more = _cmp(0.004, 0.003, 0.005, control=0.01, metric="cost")
    unclear_cost = _cmp(-0.001, -0.003, 0.001, control=0.01, metric="cost")
    assert decide(q_ok, saves, [], 0.02).decision == "go"
    assert decide(q_ok, costs_more, [], 0.02).decision == "no-go"
    assert decide(q_ok, unclear_cost, [], 0.02).decision == "inconclusive"
    assert decide(_cmp(-0.05, -0.08, -0.03), saves, [], 0.02).decision == "no-go"   # worse beyond tolerance
    assert decide(_cmp(-0.01, -0.03, 0.01), saves, [], 0.02).decision == "inconclusive"  # cannot rule out
    # the margin is strict: an interval touching -tolerance is not non-inferior
    assert decide(_cmp(0.0, -0.02, 0.02), saves, [], 0.02).decision == "inconclusive"


def test_rollout_stages_see_growing_data_and_stop_at_the_first_trigger():
    rng = np.random.default_rng(1)
    n = 4000
    frame = pd.DataFrame({"unit": [f"u{i}" for i in range(n)], "arm": np.where(np.arange(n) % 2, "candidate", "control"),
                          "item_id": [f"u{i}" for i in range(n)], "task": "t",
                          "score": rng.binomial(1, 0.9, n).astype(float), "cost": 0.01, "latency_ms": 100.0,
                          "error": False})
    frame.loc[frame.arm == "candidate", "cost"] = 0.002
    frame.loc[frame.arm == "candidate", "error"] = rng.random((frame.arm == "candidate").sum()) < 0.05
    res = analyze(frame, tolerance=0.03, guardrails=RULES, salt="s")
    stages = res.rollout
    assert [s["stage_pct"] for s in stages] == [5, 25, 50, 100]
    assert [s["units"] for s in stages] == sorted(s["units"] for s in stages)
    assert stages[-1]["units"] == n
    assert stages[0]["action"] == "rollback" and stages[0]["trigger"] == "error rate"
    assert stages[0]["reached"] and not any(s["reached"] for s in stages[1:])
    # the 100% stage sees all the data: same verdict as the whole experiment
    assert stages[-1]["verdict"] == res.verdict.decision == "no-go"


def test_verdict_rollout_and_guardrail_table_agree_when_an_early_stage_stops(tmp_path):
    """Issue 13 item 16: the headline said "inconclusive", the rollout "rollback (p95 latency)" and
    the guardrail table "p95 ok". One rule now: the stage that stops the rollout decides all three."""
    from core.experiments.assignment import rollout_buckets
    from core.experiments.memo import memo_html

    n = 2000
    units = np.array([f"u{i}" for i in range(n)], dtype=object)
    frame = pd.DataFrame({"unit": units, "arm": np.where(np.arange(n) % 2, "candidate", "control"),
                          "item_id": units, "task": "t", "score": 1.0, "cost": 0.01,
                          "latency_ms": 100.0, "error": False})
    first = rollout_buckets(units, "s") < 0.05
    slow = first & (frame["arm"] == "candidate").to_numpy()
    slow[np.flatnonzero(slow)[::2]] = False  # half of the first stage's candidates are slow
    frame.loc[slow, "latency_ms"] = 1000.0
    res = analyze(frame, tolerance=0.02, guardrails=RULES, salt="s")
    stage5 = res.rollout[0]
    assert stage5["action"] == "rollback" and stage5["trigger"] == "p95 latency"
    assert res.rollout[-1]["trigger"] is None  # on the whole replay p95 holds: 2.5% slow
    assert res.verdict.decision == "no-go" and "stops at 5%" in res.verdict.reason
    assert [g.name for g in res.guardrails if g.fired] == ["p95 latency"]
    assert res.decided_by["stage_pct"] == 5
    html = memo_html({"name": "x", "kind": "ab", "definition": {"n_items": n}, "results": res.to_dict()})
    assert "at the 5% stage, which decides" in html and "One rule decides" in html


def test_a_stage_too_small_to_judge_holds_instead_of_firing():
    frame = _frame(100, (90, 90), latency=(200.0, 900.0))
    res = analyze(frame, tolerance=0.02, guardrails=RULES, salt="s")
    assert res.rollout[0]["action"] == "hold" and res.rollout[0]["trigger"] is None
    assert all(not g["evaluated"] for g in res.rollout[0]["guardrails"])
    assert res.rollout[-1]["trigger"] == "p95 latency" and res.verdict.decision == "no-go"

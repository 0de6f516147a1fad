"""Always-valid statistics, the one decision rule, the rollout, feedback and outcomes (no server)."""
from __future__ import annotations

import math
import subprocess
import sys
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.experiments import sequential
from core.experiments.decision import evaluate
from core.experiments.live import LiveSpec, Settings, current_specs, feedback_value, save_spec, transitions
from core.experiments.outcomes import import_outcomes
from core.experiments.rollout import manual, next_spec
from core.gateway.deployments import deploy_policy, undeploy
from core.gateway.experiment_admin import act, start_experiment
from core.gateway.experiment_agent import ExperimentControl
from core.routing.policies import SingleModel
from core.settings import REPO_ROOT
from core.spend.ledger import record_calls


# -- confidence sequences ------------------------------------------------------------------------
def test_radius_matches_the_normal_mixture_formula_by_hand():
    # v = 0.0025, alpha = 0.05, planned information 400:
    # c = -2 ln .05 + ln(1 - 2 ln .05) = 5.99146 + 1.94470 = 7.93616; rho = 400 / c = 50.4022
    # rho v = 0.126006; radius = sqrt(v (1 + rho v) ln((1 + rho v) / (rho v alpha^2)))
    #       = sqrt(0.0025 * 1.126006 * ln(1.126006 / 0.000315014)) = sqrt(0.0025 * 1.126006 * 8.181585)
    #       = sqrt(0.0230313) = 0.151761
    assert sequential.radius(0.0025, 0.05, 400) == pytest.approx(0.151761, abs=2e-6)
    assert sequential.radius(0.0, 0.05, 400) == 0.0
    # wider than the fixed-horizon 1.96 * 0.05 at the planned size, and shrinking with n
    assert sequential.radius(0.0025, 0.05, 400) > 1.96 * 0.05
    assert sequential.radius(0.0025 / 4, 0.05, 400) < sequential.radius(0.0025, 0.05, 400) / 1.9


def test_peeking_every_100_requests_keeps_false_positives_at_or_below_alpha():
    rates = sequential.peeking_false_positive_rate(n_experiments=1000, looks=20, batch=100, seed=7)
    assert rates["sequential"] <= 0.05
    assert rates["fixed_horizon"] > 0.15  # the naive test read daily "finds" a difference in an A/A


def test_a_real_difference_is_found():
    rng = np.random.default_rng(3)
    seq = sequential.difference(rng.random(2000) < 0.85, rng.random(2000) < 0.75, binary=True)
    assert seq.low > 0 and seq.high < 0.2
    assert sequential.required_per_arm(0.4, 0.05) > sequential.required_per_arm(0.4, 0.1) > 0


# -- the decision rule ---------------------------------------------------------------------------
def frame(n_control: int, n_candidate: int, error_candidate: float = 0.0, cost=(0.001, 0.001),
          score=(1.0, 1.0), latency=(100.0, 100.0)) -> pd.DataFrame:
    arms = ["control"] * n_control + ["candidate"] * n_candidate
    n_err = round(error_candidate * n_candidate)
    return pd.DataFrame({
        "arm": arms,
        "error": [False] * n_control + [True] * n_err + [False] * (n_candidate - n_err),
        "cost": [cost[0]] * n_control + [cost[1]] * n_candidate,
        "latency_ms": [latency[0]] * n_control + [latency[1]] * n_candidate,
        "score": [score[0]] * n_control + [score[1]] * n_candidate})


def states(decision) -> dict[str, str]:
    return {c.name: c.state for c in decision.checks}


def test_verdict_rollout_and_guardrails_agree_by_construction():
    good = evaluate(frame(400, 400))
    assert (good.verdict, good.action) == ("go", "advance")
    assert set(states(good).values()) == {"ok"}
    failing = evaluate(frame(40, 40, error_candidate=1.0))
    assert (failing.verdict, failing.action) == ("no-go", "rollback")
    assert states(failing)["error rate"] == "breached"
    assert "error rate" in failing.reason
    early = evaluate(frame(10, 10))
    assert (early.verdict, early.action) == ("inconclusive", "hold")
    assert "fewer than 50 requests" in early.reason


def test_cost_above_one_and_a_half_times_control_is_a_breach_and_equal_cost_is_not():
    dearer = evaluate(frame(100, 100, cost=(0.001, 0.002)))
    assert states(dearer)["cost per request"] == "breached"
    assert dearer.saving["per_request_usd"]["estimate"] == pytest.approx(-0.001)
    assert states(evaluate(frame(100, 100, cost=(0.001, 0.0014))))["cost per request"] == "ok"


def test_quality_source_is_feedback_else_shadow_agreement_else_none():
    fb = evaluate(frame(200, 200, score=(0.9, 0.2)))
    assert states(fb)["quality drop"] == "breached" and fb.quality["source"].startswith("feedback")
    no_scores = frame(400, 400, score=(math.nan, math.nan))
    pairs = pd.DataFrame({"agree": [True] * 300})
    agreed = evaluate(no_scores, pairs)
    assert agreed.quality["source"].startswith("agreement with the control on 300 shadow pairs")
    assert states(agreed)["quality drop"] == "ok"
    blind = evaluate(no_scores)
    assert states(blind)["quality drop"] == "pending" and blind.verdict == "inconclusive"
    assert evaluate(no_scores, settings=Settings(require_quality=False)).verdict == "go"


def test_a_slow_candidate_breaches_p95():
    rng = np.random.default_rng(0)
    f = frame(200, 200)
    f.loc[f["arm"] == "control", "latency_ms"] = rng.normal(100, 5, 200)
    f.loc[f["arm"] == "candidate", "latency_ms"] = rng.normal(300, 5, 200)
    assert states(evaluate(f))["p95 latency"] == "breached"


# -- the rollout ---------------------------------------------------------------------------------
def test_rollout_walks_5_25_50_100_and_rolls_back_at_once():
    from core.experiments.decision import Decision

    go, stop = Decision("go", "advance", "ok", [], {}), Decision("no-go", "rollback", "errors", [], {})
    hold = Decision("inconclusive", "hold", "wait", [], {})
    spec, shares = LiveSpec("x", route="r", control="a", candidate="b", share=0.05), []
    while spec.state == "running":
        assert next_spec(spec, hold, "t") is None
        spec, action, _ = next_spec(spec, go, "t")
        shares.append((spec.share, action))
    assert shares == [(0.25, "advance"), (0.5, "advance"), (1.0, "complete")]
    assert spec.state == "completed"
    paused = manual(LiveSpec("x", route="r", control="a", candidate="b", share=0.25), "pause")
    assert next_spec(paused, go, "t") is None  # paused: never advances
    assert next_spec(paused, stop, "t")[0].share == 0.0  # but a breach still rolls back
    ab = LiveSpec("x", route="r", control="a", candidate="b", mode="ab", share=0.3)
    assert next_spec(ab, go, "t") is None and next_spec(ab, stop, "t")[0].state == "rolled_back"


# -- feedback ------------------------------------------------------------------------------------
def test_feedback_values_are_checked():
    assert feedback_value(score=0) == (0.0, None, None)
    assert feedback_value(thumbs="Down") == (0.0, "down", None)
    assert feedback_value(label="resolved") == (None, None, "resolved")
    for kw, says in (({"score": 1.01}, "between 0 and 1"), ({"score": "high"}, "a number"),
                     ({"score": True}, "a number"), ({"thumbs": "meh"}, "'up' or 'down'"), ({}, "give a score")):
        with pytest.raises(InputError, match=says):
            feedback_value(**kw)


@pytest.fixture
def served(ws):
    deploy_policy(ws, "support", SingleModel("openai:a"), source="test")
    deploy_policy(ws, "cheap", SingleModel("openai:b"), source="test")
    spec = start_experiment(ws, LiveSpec("exp", route="support", control="support", candidate="cheap",
                                         unit="request", mode="ab", share=0.5))
    record_calls(ws, pd.DataFrame({
        "call_id": ["gw-r1-0", "gw-r2-0", "gw-r3-0"], "eval_run": ["gw-r1", "gw-r2", "gw-r3"],
        "ts": [datetime(2026, 1, 5, 10)] * 3, "model": ["a", "b", "a"], "cost_usd": [0.001, 0.0005, 0.001],
        "latency_ms": [100.0, 90.0, 110.0], "source": "gateway", "experiment": "exp",
        "variant": ["control", "candidate", "control"]}))
    return spec


def test_an_experiment_on_a_missing_policy_is_refused_and_paused_when_undeployed(ws, served, tmp_path):
    with pytest.raises(InputError, match="'nope' is not deployed or saved"):
        start_experiment(ws, LiveSpec("other", route="support", control="support", candidate="nope"))
    with pytest.raises(InputError, match="already runs experiment 'exp'"):
        start_experiment(ws, LiveSpec("other", route="support", control="support", candidate="cheap"))
    undeploy(ws, "cheap")
    control = ExperimentControl(ws.location, tmp_path / "rt")
    control.decide(ws, {"support"})
    spec = current_specs(ws)["exp"]
    assert (spec.state, spec.share) == ("paused", 0.0)
    assert transitions(ws, "exp").iloc[0][["action", "actor"]].tolist() == ["pause", "system"]


def test_manual_actions_are_recorded_and_a_stale_write_loses(ws, served):
    act(ws, "exp", "pause", "looking at it")
    assert current_specs(ws)["exp"].state == "paused"
    assert save_spec(ws, served, action="x", reason="stale", expect_revision=served.revision) is None
    act(ws, "exp", "rollback")
    log = transitions(ws, "exp")
    assert list(log["action"])[::-1] == ["created", "pause", "rollback"]
    assert list(log["to_share"])[::-1] == [0.5, 0.5, 0.0]
    with pytest.raises(InputError, match="rolled back: resume it first"):
        act(ws, "exp", "advance")


def test_outcomes_csv_joins_by_request_id_and_lists_every_bad_row(ws, served, tmp_path):
    good = tmp_path / "outcomes.csv"
    good.write_text("request_id,score,label\nchatcmpl-r1,0.5,\nr2,,resolved\nr3,1,\n")
    assert import_outcomes(ws, good) == {"rows": 3, "experiments": {"exp": 3}}
    from core.experiments.live_data import requests

    got = requests(ws, "exp").set_index("request_id")
    assert got.loc["r1", "score"] == 0.5 and got.loc["r2", "label"] == "resolved"
    bad = tmp_path / "bad.csv"
    bad.write_text("request_id;score\nr1;1.5\nnever;1\n;0\n")
    with pytest.raises(InputError) as err:
        import_outcomes(ws, bad)
    text = str(err.value)
    assert "row 1, column 'score'" in text and "between 0 and 1" in text
    assert "row 2, column 'request_id'" in text and "'never'" in text and "row 3" in text
    assert len(requests(ws, "exp").dropna(subset=["score"])) == 2  # nothing of bad.csv stored


def test_outcomes_cli_prints_one_line_and_exits_2(tmp_path):
    bad = tmp_path / "o.csv"
    bad.write_text('request_id,score\n"r1,1\n')
    env = {"TRADEOFF_WORKSPACE": str(tmp_path / "ws.duckdb"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "core", "feedback", "import", str(bad)], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_a_failing_webhook_is_retried_recorded_and_a_dead_processs_event_is_sent_again(ws, served, tmp_path):
    import json as _json
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from core.gateway.webhooks import DeliverySettings, deliveries, record_event

    got, statuses = [], [500, 500, 204]  # two failures, then accepted

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(_json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(statuses.pop(0) if statuses else 204)
            self.end_headers()

        def log_message(self, *args):
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/secret-token"
    try:
        act(ws, "exp", "stop")
        spec = start_experiment(ws, LiveSpec("hooked", route="support", control="support",
                                             candidate="cheap", webhooks=(url,)))
        fast = DeliverySettings(attempts=4, backoff_s=0.01, backoff_cap_s=0.02, timeout_s=5)
        control = ExperimentControl(ws.location, tmp_path / "rt", delivery=fast)
        # another gateway recorded the "created" event long ago and died before delivering it
        stale = record_event(ws, "experiment.transition", {"experiment": "hooked", "action": "created"},
                             "old", dedup_key=f"experiment:hooked:{spec.revision}")
        ws.write(lambda cur: cur.execute("update gateway_events set created_at = created_at - "
                                         "interval 2 minute where event_id = ?", [stale.event_id]))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            control.deliver(ws)
            log = transitions(ws, "hooked").set_index("revision")
            if log["delivery"].notna().all():
                break
            time.sleep(0.02)
        control.close(ws)
        assert log.loc[spec.revision, "delivery"] == f"http://127.0.0.1:{server.server_address[1]}/…: HTTP 204"
        assert len(got) == 3 and got[-1]["event_id"] == stale.event_id  # the recorded event, sent once it answered
        tries = deliveries(ws)
        tries = tries[tries["event_id"] == stale.event_id].sort_values("attempt")
        assert tries["status_code"].tolist() == [500, 500, 204] and tries["final"].tolist() == [False, False, True]
        assert "secret-token" not in " ".join(map(str, log["delivery"].tolist() + tries["error"].tolist()))
    finally:
        server.shutdown()
        for old in current_specs(ws).values():
            if old.state in ("running", "paused"):
                act(ws, old.name, "stop")

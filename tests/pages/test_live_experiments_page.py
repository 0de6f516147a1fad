"""The live half of the Experiments page, driven headlessly on a workspace with gateway traffic."""
from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.experiments.decision import evaluate
from core.experiments.live import LiveSpec, current_specs, record_feedback, transitions
from core.experiments.live_data import requests
from core.gateway.deployments import deploy_policy
from core.gateway.experiment_admin import start_experiment
from core.routing.policies import SingleModel
from core.settings import REPO_ROOT
from core.spend.ledger import record_calls

PAGE = str(REPO_ROOT / "app_pages" / "experiments.py")


@pytest.fixture
def live(ws):
    deploy_policy(ws, "support", SingleModel("openai:a"), source="test")
    deploy_policy(ws, "cheap", SingleModel("openai:b"), source="test")
    spec = start_experiment(ws, LiveSpec("cheap-test", route="support", control="support",
                                         candidate="cheap", unit="request", mode="rollout"))
    start = datetime.fromisoformat(spec.stage_started) + timedelta(seconds=1)
    n = 120  # the candidate fails every request: the error-rate guardrail is breached
    arms = ["control", "candidate"] * n
    record_calls(ws, pd.DataFrame({
        "call_id": [f"gw-r{i}-0" for i in range(2 * n)], "eval_run": [f"gw-r{i}" for i in range(2 * n)],
        "ts": [start + timedelta(seconds=i) for i in range(2 * n)], "model": ["a", "b"] * n,
        "cost_usd": [0.002, 0.001] * n, "latency_ms": 100.0, "source": "gateway",
        "status": ["ok", "error"] * n, "experiment": "cheap-test", "variant": arms}))
    record_feedback(ws, [{"request_id": "r0", "experiment": "cheap-test", "arm": "control", "score": 1.0,
                          "thumbs": None, "label": None, "origin": "api", "received_at": start}])
    return ws


def test_live_experiment_shows_one_verdict_its_guardrails_and_log_and_steers(live, tmp_path):
    expected = evaluate(requests(live, "cheap-test"), None, current_specs(live)["cheap-test"].settings)
    assert expected.verdict == "no-go"
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = "\n".join(m.value for m in at.markdown)
    assert "Verdict: no-go" in shown and "Rollout: roll back to 0%" in shown
    guardrails = next(d.value for d in at.dataframe if "guardrail" in d.value.columns)
    assert dict(zip(guardrails["guardrail"], guardrails["state"]))["error rate"] == "breached"
    assert [c.state for c in expected.checks] == guardrails["state"].tolist()
    per_arm = next(d.value for d in at.dataframe if "quality source" in d.value.columns)
    assert per_arm["requests"].tolist() == [120, 120]
    assert per_arm["quality source"].tolist() == ["feedback on 1 request (n=1)", "none (n=0)"]
    at.button(key="live_pause").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert current_specs(live)["cheap-test"].state == "paused"
    assert transitions(live, "cheap-test").iloc[0]["actor"] == "pm"
    at.button(key="live_pause").click().run()  # already paused: a message, nothing breaks
    assert not at.exception


def test_start_form_refuses_the_same_policy_twice_with_a_message(live):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    at.text_input(key="live_name").set_value("again")
    at.selectbox(key="live_control").set_value("cheap")
    at.selectbox(key="live_candidate").set_value("cheap")
    at.button[[b.label for b in at.button].index("Start")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("same policy" in e.value for e in at.error)


def test_start_form_sets_live_scorers_and_refuses_a_bad_one(live):
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    at.selectbox(key="live_route").set_value("cheap")
    at.selectbox(key="live_control").set_value("cheap")
    at.selectbox(key="live_candidate").set_value("support")
    at.text_input(key="live_name").set_value("scored")
    at.text_input(key="live_score_regex").set_value("(unclosed")
    at.button[[b.label for b in at.button].index("Start")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("(unclosed" in e.value for e in at.error)
    assert "scored" not in current_specs(live)  # nothing started
    at.text_input(key="live_score_regex").set_value("^(yes|no)$")
    at.checkbox(key="live_score_json").check()
    at.button[[b.label for b in at.button].index("Start")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert current_specs(live)["scored"].scorers == ("json", "regex:^(yes|no)$")
    assert at.selectbox(key="live_pick").value == "scored"  # the page shows the one just started

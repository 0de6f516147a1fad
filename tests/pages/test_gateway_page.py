"""The Gateway page driven headlessly: deploy in two clicks, traffic by policy from the ledger,
budget state, keys shown once, webhooks tested with a real receiver."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.gateway.budgets import set_budget
from core.gateway.deployments import current_deployments
from core.pricing.catalog import price_snapshot_date
from core.routing.optimize.store import save_policy
from core.routing.policies import Cascade, SingleModel
from core.settings import REPO_ROOT
from core.spend.ledger import record_calls
from core.workspace import open_workspace
from tests.helpers.apptest import metrics
from tests.helpers.apptest import run_clean as _run
from tests.helpers.apptest import table_with as _table
from tests.helpers.webhook_receiver import WebhookReceiver

PAGE = str(REPO_ROOT / "app_pages" / "gateway.py")


@pytest.fixture
def gateway_ws(workspace_path):
    ws = open_workspace(workspace_path)
    save_policy(ws, "Support cascade", Cascade(["openai:small", "openai:big"], [0.8]))
    save_policy(ws, "Cheap", SingleModel("openai:small"))
    now = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None))
    tags = "team:support,policy:support-cascade,policy_version:1"
    record_calls(ws, pd.DataFrame({  # r1: one call; r2: escalated; r3: fell back after a 500
        "call_id": ["r1-0", "r2-0", "r2-1", "r3-0", "r3-1", "r4-0"],
        "eval_run": ["gw-r1", "gw-r2", "gw-r2", "gw-r3", "gw-r3", "gw-r4"],
        "ts": [now] * 6, "provider": ["openai"] * 6,
        "model": ["small", "small", "big", "small", "big", "big"],
        "status": ["ok", "ok", "ok", "server_error", "ok", "ok"],
        "cost_usd": [0.01, 0.001, 0.02, 0.0, 0.02, 0.5], "source": ["gateway"] * 6,
        "tags": [tags] * 5 + ["team:support"], "project": ["support"] * 6}))
    return ws


def test_deploy_traffic_and_budgets(gateway_ws):
    at = _run(AppTest.from_file(PAGE, default_timeout=120))
    assert any("No gateway is running" in i.value for i in at.info)
    choice = at.selectbox(key="gw_deploy_choice")
    assert choice.value == "Cheap (single) → tradeoff/cheap"  # newest first
    choice.set_value("Support cascade (cascade) → tradeoff/support-cascade")
    at.button(key="gw_deploy").click()  # the second click
    _run(at)
    assert current_deployments(gateway_ws)["support-cascade"]["revision"] == 1
    assert at.success[0].value.startswith("Deployed Support cascade as tradeoff/support-cascade (revision 1)")
    table = _table(at, "revision")
    assert table[["model", "kind", "models"]].values.tolist() == [
        ["tradeoff/support-cascade", "cascade", "openai:small, openai:big"]]

    traffic = _table(at, "escalated_or_fell_back").set_index("policy")
    assert traffic.loc["support-cascade", ["requests", "calls", "failed_calls", "escalated_or_fell_back"]].tolist() == [3, 5, 1, 2]
    assert traffic.loc["support-cascade", "cost_usd"] == pytest.approx(0.051)  # .01 + .001 + .02 + .02
    assert traffic.loc["(direct model)", ["requests", "cost_usd"]].tolist() == [1, 0.5]
    assert metrics(at)["Requests"] == "4" and metrics(at)["Spend"] == "$0.5510"
    assert metrics(at)["Failed provider calls"] == "1"
    assert _table(at, "latency_ms")["status"].tolist() == ["server_error"]
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["xaxis"]
    start, end = (pd.Timestamp(x) for x in chart["range"])
    assert chart["tickformat"] == "%H:%M" and end - start == pd.Timedelta(minutes=61)  # the last hour
    assert any(c.value.startswith("Billed spend: the tokens each provider reported") and
               f"catalog of {price_snapshot_date()}" in c.value and "unknown" not in c.value
               for c in at.caption)

    at.selectbox(key="gw_budget_scope").set_value("team")
    at.text_input(key="gw_budget_subject").set_value("support")
    at.number_input(key="gw_budget_limit").set_value(0.5)
    at.selectbox(key="gw_budget_action").set_value("switch")
    switch_to = at.selectbox(key="gw_budget_switch_to")
    assert switch_to.options == ["(none)", "tradeoff/cheap", "tradeoff/support-cascade"]  # deployed or saved
    next(b for b in at.button if b.label == "Save budget").click()  # switch, but to nothing
    _run(at)
    assert "switch" in at.error[0].value and "cheaper policy" in at.error[0].value
    at.selectbox(key="gw_budget_switch_to").set_value("cheap")
    next(b for b in at.button if b.label == "Save budget").click()
    _run(at)
    assert at.success[-1].value == "Saved: daily budget of team 'support' of $0.50."
    budget = _table(at, "applies_now")
    assert budget["spent_usd"].tolist() == [pytest.approx(0.551)]  # every gateway call of the team
    assert budget[["alert", "action", "applies_now"]].values.tolist() == [["100%", "switch to cheap at 100%", True]]


def test_keys_are_shown_once_and_webhooks_tested(gateway_ws):
    set_budget(gateway_ws, "overall", "monthly", 10.0)
    at = _run(AppTest.from_file(PAGE, default_timeout=120))
    at.text_input(key="gw_key_name").set_value("web-app")
    next(b for b in at.button if b.label == "Create key").click()
    _run(at)
    key = at.code[0].value
    assert key.startswith("tk-") and "shown once" in at.warning[0].value
    keys = _table(at, "revoked_at")
    assert keys["name"].tolist() == ["web-app"] and key not in keys.astype(str).to_csv()
    _run(at)  # the next run: the key is gone from the page
    assert not at.code
    at.button(key="gw_revoke").click()
    _run(at)
    assert _table(at, "revoked_at")["active"].tolist() == [False]

    with WebhookReceiver(fail_first=1) as hook:
        at.text_input(key="gw_webhook_name").set_value("ops")
        at.text_input(key="gw_webhook_url").set_value(hook.url)
        next(b for b in at.button if b.label == "Add webhook").click()
        _run(at)
        assert "SECRETPATH" not in _table(at, "events").astype(str).to_csv()
        at.button(key="gw_webhook_test").click()
        _run(at)
        assert any(s.value == "Test message delivered after 2 attempt(s): HTTP 200" for s in at.success)
        assert [b["kind"] for b in hook.bodies] == ["webhook.test"]
    deliveries = _table(at, "attempt")
    assert deliveries[["attempt", "status_code", "ok", "final"]].values.tolist() == [[2, 200, True, True],
                                                                                    [1, 500, False, False]]


def test_bad_webhook_url_is_a_message(gateway_ws):
    at = _run(AppTest.from_file(PAGE, default_timeout=120))
    at.text_input(key="gw_webhook_name").set_value("x")
    at.text_input(key="gw_webhook_url").set_value("ftp:/nowhere")
    next(b for b in at.button if b.label == "Add webhook").click()
    _run(at)
    assert at.error[0].value == "Webhook URL: expected http:// or https:// and a host, got 'ftp:/nowhere'"


def test_the_cost_note_says_how_old_the_prices_are_and_counts_unknown_costs():
    from ui.gateway_widgets import cost_basis_note

    snapshot = dt.date.fromisoformat(price_snapshot_date())
    note = cost_basis_note(3, today=snapshot + dt.timedelta(days=12))
    assert f"catalog of {snapshot.isoformat()}, 12 days old" in note
    assert "3 call(s) of a model with no price are counted as unknown, not as $0" in note
    assert "unknown" not in cost_basis_note(0, today=snapshot)

"""Budgets enforced at the gateway, over real HTTP with the official openai client.

Prices are set so every request costs a round sum: the prompt "qNN answer: a" is 13 characters,
which the fake provider counts as ceil(13/4) + 4 = 8 input tokens, and the answer "a" is 1
output token. At $125,000 per million input tokens (output free) ``openai:big`` costs
8 x 0.125 = $1.00 a request; ``openai:small`` at $12,500 costs $0.10.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter

import openai
import pandas as pd
import pytest

from core.gateway.budgets import set_budget
from core.gateway.webhooks import add_webhook, deliveries, remove_webhook
from core.routing.policies import SingleModel
from core.spend.ledger import record_calls
from tests.gateway.helpers import chat
from tests.helpers.webhook_receiver import WebhookReceiver

BIG, SMALL = "openai:big", "openai:small"


@pytest.fixture(scope="module")
def priced(gateway_server):
    gateway_server.set_price(BIG, 125_000, 0)
    gateway_server.set_price(SMALL, 12_500, 0)
    gateway_server.deploy("main", SingleModel(BIG))
    gateway_server.deploy("cheap", SingleModel(SMALL))
    return gateway_server


def ask(client, i: int, team: str, **headers):
    return chat(client, "tradeoff/main", f"q{i:02d} answer: a",
                extra_headers={"X-Tradeoff-Team": team, **headers})


def models_called(fake) -> Counter:
    return Counter(c["model"] for c in fake.calls)


def dates() -> tuple[str, str]:
    today = dt.datetime.now(dt.UTC).date()
    return today.isoformat(), (today + dt.timedelta(days=1)).isoformat()


def budget_events(gw, budget_id: str) -> pd.DataFrame:
    frame = gw.with_ws(lambda ws: ws.cursor().execute(
        "select payload_json, dedup_key from gateway_events where kind = 'budget.threshold'").df())
    return frame[frame["dedup_key"].str.startswith(f"budget:{budget_id}:")]


def test_switch_to_the_cheaper_policy_at_90_percent_with_one_webhook_per_threshold(priced, fake_llm):
    gw = priced
    with WebhookReceiver(fail_first=1) as hook:
        hook_id = gw.with_ws(add_webhook, "ops", hook.url)["webhook_id"]
        budget = gw.with_ws(set_budget, "team", "daily", 10.0, subject="support", action="switch",
                            switch_to="cheap", action_at=90)
        gw.wait_guard(lambda g: budget["budget_id"] in g.counters, "the budget")
        client = gw.client()
        for i in range(9):  # $9 of $10: 90%
            _, headers = ask(client, i, "support")
            assert headers["x-tradeoff-answered-by"] == BIG
        assert models_called(fake_llm) == {"big": 9}
        _, headers = ask(client, 9, "support")  # the next request: switched
        assert headers["x-tradeoff-answered-by"] == SMALL
        assert headers["x-tradeoff-swapped-from"] == "tradeoff/main"
        assert headers["x-tradeoff-policy"].startswith("cheap@")
        _, other = ask(client, 10, "sales")  # another team has no budget
        assert other["x-tradeoff-answered-by"] == BIG
        assert models_called(fake_llm) == {"big": 10, "small": 1}

        bodies = hook.wait_for(2)
        assert sorted(b["threshold"] for b in bodies) == [70, 90]
        by = {b["threshold"]: b for b in bodies}
        assert by[90]["text"].startswith("Tradeoff gateway: daily budget of team 'support' reached 90% ($9.")
        assert "Requests now go to the cheaper policy 'cheap'." in by[90]["text"]
        assert by[90]["action_applies"] is True and by[70]["action_applies"] is False
        assert by[90]["budget"]["scope"] == "team" and by[90]["budget"]["subject"] == "support"
        assert by[90]["limit_usd"] == 10.0 and by[90]["kind"] == "budget.threshold"
        assert 9.0 <= by[90]["spent_usd"] <= 9.1 + 1e-9
        # the first POST got a 500 and was retried: three attempts recorded for two events
        gw.commit()
        gw.wait_guard(lambda g: len(gw.with_ws(deliveries)) >= 3, "the delivery attempts recorded")
        attempts = gw.with_ws(deliveries).sort_values(["at"])
        assert list(attempts["status_code"]) == [500, 200, 200]
        assert list(attempts["attempt"]) == [1, 2, 1]
        assert list(attempts["ok"]) == [False, True, True]
        assert list(attempts["final"]) == [False, True, True]
        # more traffic and more cycles: still one event per threshold
        ask(client, 11, "support")
        gw.commit()
        gw.commit()
        assert len(budget_events(gw, budget["budget_id"])) == 2
        assert len(hook.bodies) == 2
        gw.with_ws(remove_webhook, hook_id)


def test_refuse_non_urgent_with_a_429_that_says_why_then_hard_stop(priced, fake_llm):
    gw = priced
    today, tomorrow = dates()
    budget = gw.with_ws(set_budget, "team", "daily", 3.0, subject="ml", action="refuse")
    gw.wait_guard(lambda g: budget["budget_id"] in g.counters, "the budget")
    client = gw.client()
    for i in range(3):
        ask(client, i, "ml")
    with pytest.raises(openai.RateLimitError) as refused:
        ask(client, 3, "ml")
    error = refused.value.response.json()["error"]
    assert error["message"] == (
        f"Budget exceeded: the daily budget of team 'ml' has $3.0000 spent of $3.00 (100%) since "
        f"{today}; it resets at {tomorrow}T00:00:00Z. Non-urgent requests are refused until then; "
        "send X-Tradeoff-Urgent: true for urgent work.")
    assert error["code"] == "budget_exceeded" and error["type"] == "insufficient_quota"
    assert refused.value.response.headers["x-should-retry"] == "false"
    assert int(refused.value.response.headers["retry-after"]) >= 1
    _, headers = ask(client, 4, "ml", **{"X-Tradeoff-Urgent": "true"})  # urgent work goes through
    assert headers["x-tradeoff-answered-by"] == BIG
    assert models_called(fake_llm) == {"big": 4}  # the refused request called no provider

    gw.with_ws(set_budget, "team", "daily", 3.0, subject="ml", action="stop")
    gw.wait_guard(lambda g: g.counters[budget["budget_id"]].state["action"] == "stop", "the hard stop")
    with pytest.raises(openai.RateLimitError) as stopped:
        ask(client, 5, "ml", **{"X-Tradeoff-Urgent": "true"})
    message = stopped.value.response.json()["error"]["message"]
    assert "has $4.0000 spent of $3.00 (133%)" in message
    assert message.endswith("Every request is refused until then (hard stop).")
    assert models_called(fake_llm) == {"big": 4}


def test_spend_of_other_workers_applies_on_the_next_request_after_the_refresh(priced, fake_llm):
    gw = priced
    budget = gw.with_ws(set_budget, "team", "daily", 2.0, subject="batch", action="stop")
    bid = budget["budget_id"]
    gw.wait_guard(lambda g: bid in g.counters, "the budget")
    client = gw.client()
    ask(client, 0, "batch")  # $1 of $2, counted by this worker at once
    assert gw.guard.counters[bid].spent == pytest.approx(1.0)
    # another worker's $1.50, committed to the ledger (this worker never saw the request)
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    gw.with_ws(record_calls, pd.DataFrame({
        "call_id": ["other-worker-1"], "ts": [now], "provider": ["openai"], "model": ["big"],
        "cost_usd": [1.5], "source": ["gateway"], "project": ["batch"], "tags": ["team:batch"],
        "status": ["ok"], "requests": [1]}))
    gw.wait_guard(lambda g: g.counters[bid].spent >= 2.5 - 1e-9, "the other worker's spend")
    assert gw.guard.counters[bid].spent == pytest.approx(2.5)  # never counted twice
    with pytest.raises(openai.RateLimitError) as refused:
        ask(client, 1, "batch")
    assert "has $2.5000 spent of $2.00 (125%)" in refused.value.response.json()["error"]["message"]
    assert models_called(fake_llm) == {"big": 1}

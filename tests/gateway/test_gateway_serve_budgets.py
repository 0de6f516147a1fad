"""``python -m core serve --workers 2`` with a budget: each threshold alerts once whatever the
number of workers, and every worker refuses once the store agent has published the spend.

Each request to ``openai:big`` costs $1.00 (8 input tokens at $125,000 per million)."""
from __future__ import annotations

import json
import threading

import httpx
import pytest

from core.gateway.budgets import set_budget
from core.gateway.webhooks import add_webhook, deliveries
from core.pricing.edits import set_override
from core.workspace import Workspace
from tests.gateway.test_gateway_serve import STARTED, kill_all, start, stop
from tests.helpers.webhook_receiver import WebhookReceiver


@pytest.fixture(autouse=True)
def _no_server_left_behind():
    yield
    while STARTED:
        kill_all(STARTED.pop())


def test_two_workers_alert_once_per_threshold_and_all_refuse_after_the_refresh(tmp_path, fake_llm_env, fake_llm):
    policy = tmp_path / "main.json"
    policy.write_text(json.dumps({"policy": {"kind": "single", "model": "openai:big"}}))
    with WebhookReceiver() as hook:
        ws = Workspace(tmp_path / "ws.duckdb")
        set_override(ws, "openai:big", 125_000, 0)
        add_webhook(ws, "ops", hook.url)
        set_budget(ws, "overall", "daily", 4.0, action="refuse")
        ws.close()
        proc = start(tmp_path, fake_llm_env, "--policy", str(policy), workers=2)
        statuses: list[int] = []

        def load(n: int) -> None:
            with httpx.Client(timeout=20) as client:
                for i in range(3):
                    r = client.post(proc.url + "/v1/chat/completions", json={
                        "model": "tradeoff/main", "messages": [{"role": "user", "content": f"q{n}{i} answer: a"}]})
                    statuses.append(r.status_code)

        threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        answered = statuses.count(200)
        assert answered >= 4 and set(statuses) <= {200, 429}  # at least the budget's $4 went through
        hook.wait_for(3)  # 70, 90, 100%
        refused = None
        for i in range(40):  # both workers refuse once they reload the published spend
            r = httpx.post(proc.url + "/v1/chat/completions", timeout=20, json={
                "model": "tradeoff/main", "messages": [{"role": "user", "content": f"r{i:02d} answer: a"}]})
            if r.status_code == 200:
                answered += 1
                continue
            refused = r
            if all(httpx.get(proc.url + "/health").json()["guard"]["budgets"][0]["applies"] for _ in range(6)):
                break
        assert refused is not None and refused.status_code == 429
        assert "the daily budget of the gateway has $" in refused.json()["error"]["message"]
        assert stop(proc) == 0
        assert sorted(b["threshold"] for b in hook.bodies) == [70, 90, 100]  # once each, 2 workers
    assert len(fake_llm.calls) == answered  # refused requests called no provider
    ws = Workspace(tmp_path / "ws.duckdb")
    try:
        assert ws.cursor().execute("select sum(cost_usd) from ledger").fetchone()[0] == pytest.approx(answered)
        assert len(deliveries(ws)) == 3 and deliveries(ws)["ok"].all()
    finally:
        ws.close()

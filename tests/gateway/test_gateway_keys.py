"""Gateway keys over real HTTP (401s in OpenAI's format, the key never stored), per-key and
overall budgets, and the admin commands (``python -m core keys|webhooks|budgets``).

Prices as in test_gateway_budgets: each request to ``openai:big`` costs $1.00."""
from __future__ import annotations

from pathlib import Path

import openai
import pytest

from core.gateway.apikeys import create_key, revoke_key
from core.gateway.budgets import set_budget
from core.routing.policies import SingleModel
from tests.gateway.helpers import chat
from tests.helpers.webhook_receiver import WebhookReceiver


@pytest.fixture(scope="module")
def keyed(gateway_server):
    gateway_server.set_price("openai:big", 125_000, 0)
    gateway_server.deploy("main", SingleModel("openai:big"))
    return gateway_server


def ask(client, i: int, **headers):
    return chat(client, "tradeoff/main", f"q{i:02d} answer: a", extra_headers=headers)


def everything_stored(gw) -> str:
    """Every text value of every table of the workspace, and the bytes of every file of the
    workspace and the gateway folder (spool, guard.json, ...), as one string."""
    def texts(ws):
        cur = ws.cursor()
        return "\n".join(cur.execute(f'select * from "{table}"').df().astype(str).to_csv()
                         for table in ws.tables(cur))

    files = [*Path(gw.workspace).rglob("*"), *Path(gw.runtime).rglob("*")]
    raw = b"".join(p.read_bytes() for p in files if Path(p).is_file())
    return gw.with_ws(texts) + raw.decode("latin-1")


def test_keys_are_checked_hashed_tagged_and_revocable(keyed, fake_llm):
    gw = keyed
    _, headers = ask(gw.client(api_key="anything"), 0)  # no key exists yet: the gateway is open
    assert headers["x-tradeoff-answered-by"] == "openai:big"
    made = gw.with_ws(create_key, "billing-app")
    key, key_id = made["key"], made["key_id"]
    gw.wait_guard(lambda g: g.keys_required and key_id in g.keys, "the new key")

    for client, why in ((gw.client(api_key="unused"), "this gateway key is unknown or revoked"),
                        (gw.client(api_key=f"tk-{key_id}-forged"), "this gateway key is unknown or revoked")):
        with pytest.raises(openai.AuthenticationError) as refused:
            ask(client, 1)
        error = refused.value.response.json()["error"]
        assert error["message"].startswith(f"Unauthorized: {why}. Send an active Tradeoff gateway key")
        assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert len(fake_llm.calls) == 1  # refused requests reached no provider

    with pytest.raises(openai.AuthenticationError):
        gw.client(api_key="unused").models.list()  # the model list is for key holders too
    assert "tradeoff/main" in [m.id for m in gw.client(api_key=key).models.list()]
    _, headers = ask(gw.client(api_key=key), 2, **{"X-Tradeoff-Team": "billing"})
    rows = gw.ledger_rows([headers["x-tradeoff-request-id"]])
    assert rows["tags"].tolist() == [f"team:billing,key:{key_id},policy:main,policy_version:1"]

    assert key not in everything_stored(gw)  # hashed: not in the store, the spool or guard.json
    assert key[len("tk-") + len(key_id) + 1:] not in everything_stored(gw)

    assert gw.with_ws(revoke_key, "billing-app")
    gw.wait_guard(lambda g: key_id not in g.keys, "the revocation")
    with pytest.raises(openai.AuthenticationError):
        ask(gw.client(api_key=key), 3)


def test_key_and_overall_budgets(keyed, fake_llm):
    gw = keyed
    app = gw.with_ws(create_key, "app")
    batch = gw.with_ws(create_key, "batch")
    # the ledger has $2 of gateway spend from the test above (the first two answered requests)
    per_key = gw.with_ws(set_budget, "key", "daily", 2.0, subject="app", action="stop")
    overall = gw.with_ws(set_budget, "overall", "daily", 5.0, action="refuse", action_at=90)
    with WebhookReceiver() as hook:
        from core.gateway.webhooks import add_webhook

        gw.with_ws(add_webhook, "all", hook.url, "budget.")
        gw.wait_guard(lambda g: {per_key["budget_id"], overall["budget_id"]} <= set(g.counters)
                      and app["key_id"] in g.keys and batch["key_id"] in g.keys, "the budgets and keys")
        assert gw.guard.counters[overall["budget_id"]].spent == pytest.approx(2.0)
        as_app, as_batch = gw.client(api_key=app["key"]), gw.client(api_key=batch["key"])
        ask(as_app, 10)
        ask(as_app, 11)  # app: $2 of $2; overall $4 of $5 (80%)
        with pytest.raises(openai.RateLimitError) as stopped:
            ask(as_app, 12, **{"X-Tradeoff-Urgent": "true"})
        assert "the daily budget of gateway key 'app' has $2.0000 spent of $2.00 (100%)" in \
            stopped.value.response.json()["error"]["message"]
        ask(as_batch, 13)  # another key goes on: overall $5 of $5
        with pytest.raises(openai.RateLimitError) as refused:
            ask(as_batch, 14)
        assert "the daily budget of the gateway has $5.0000 spent of $5.00 (100%)" in \
            refused.value.response.json()["error"]["message"]
        _, headers = ask(as_batch, 15, **{"X-Tradeoff-Urgent": "1"})
        assert headers["x-tradeoff-answered-by"] == "openai:big"
        bodies = hook.wait_for(6)  # each threshold of each budget once ($2 of $2; $6 of $5)
        got = sorted((b["budget"]["scope"], b["threshold"]) for b in bodies)
        assert got == [("key", 70), ("key", 90), ("key", 100), ("overall", 70), ("overall", 90),
                       ("overall", 100)]
        assert all(b["text"].startswith("Tradeoff gateway: daily budget of ") for b in bodies)
        key_alert = next(b for b in bodies if b["budget"]["scope"] == "key")
        assert key_alert["budget"]["key_name"] == "app"
    assert app["key"] not in everything_stored(gw)


def test_admin_commands(tmp_path, monkeypatch, capsys):
    from core.cli import main

    monkeypatch.setenv("TRADEOFF_WORKSPACE", str(tmp_path / "ws.duckdb"))
    assert main(["keys", "create", "svc"]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert key.startswith("tk-") and "shown once" in err
    assert main(["keys", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert '"name": "svc"' in listed and key not in listed
    assert main(["budgets", "set", "--scope", "team", "--period", "daily", "--limit", "5"]) == 2
    assert capsys.readouterr().err == "error: A team budget needs the team it is for (--subject)\n"
    assert main(["budgets", "set", "--scope", "team", "--subject", "a", "--period", "daily",
                 "--limit", "5", "--action", "switch", "--switch-to", "nowhere"]) == 2
    assert "'nowhere' is neither deployed nor a saved policy" in capsys.readouterr().err
    assert main(["budgets", "set", "--scope", "key", "--subject", "svc", "--period", "weekly",
                 "--limit", "7.5", "--action", "refuse", "--at", "90"]) == 0
    assert "weekly budget of gateway key" in capsys.readouterr().err
    assert main(["budgets", "status", "--json"]) == 0
    assert '"limit_usd": 7.5' in capsys.readouterr().out
    with WebhookReceiver() as hook:
        assert main(["webhooks", "add", "ops", hook.url]) == 0
        assert "SECRETPATH" not in capsys.readouterr().err  # the URL is shown masked
        assert main(["webhooks", "test", "ops"]) == 0
        assert "delivered after 1 attempt(s) (HTTP 200)" in capsys.readouterr().err
        assert hook.bodies[0]["kind"] == "webhook.test" and "text" in hook.bodies[0]
    assert main(["webhooks", "list"]) == 0
    assert "SECRETPATH" not in capsys.readouterr().out
    assert main(["keys", "revoke", "svc"]) == 0
    assert main(["keys", "revoke", "svc"]) == 2
    assert capsys.readouterr().err.endswith("error: No active gateway key 'svc': see `python -m core keys list`\n")

"""Direct provider models through the gateway, over real HTTP with the official openai client:
the answer, the headers (models tried, exact cost), the ledger against the fake servers' log."""
from __future__ import annotations

from decimal import Decimal

import openai
import pytest

from core.pricing.catalog import Catalog
from tests.gateway.helpers import assert_ledger_matches_fake, chat

MODELS = ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "gemini:gemini-2.0-flash",
          "local:llama3.1:8b"]


@pytest.mark.parametrize("model", MODELS)
def test_each_provider_answers_in_its_own_wire_format(gateway_server, fake_llm, model):
    client = gateway_server.client()
    text, headers = chat(client, model, "What is the capital of France? answer: Paris",
                         max_tokens=20, extra_headers={"X-Tradeoff-Team": "growth",
                                                       "X-Tradeoff-User": "u-17"})
    assert text == "Paris"
    assert headers["x-tradeoff-models"] == model
    assert headers["x-tradeoff-policy"] == "-"
    provider, name = model.split(":", 1)
    call = fake_llm.calls[-1]
    assert (call["provider"], call["model"], call["max_tokens"]) == (provider, name, 20)
    rows = gateway_server.ledger_rows([headers["x-tradeoff-request-id"]])
    assert len(rows) == 1
    row = rows.iloc[0]
    expected = Catalog().call_cost(model, int(row["input_tokens"]), int(row["output_tokens"]))
    if expected is None:
        assert headers["x-tradeoff-cost-usd"] == "unknown"
    else:
        assert Decimal(headers["x-tradeoff-cost-usd"]) == Decimal(repr(expected))
        assert row["cost_usd"] == expected
    assert row["tags"] == "team:growth,user:u-17"
    assert row["project"] == "growth"
    assert_ledger_matches_fake(gateway_server, fake_llm, [headers["x-tradeoff-request-id"]])


def test_streaming_sends_openai_chunks_and_usage(gateway_server, fake_llm):
    client = gateway_server.client()
    fake_llm.script("ok", model="gpt-4o-mini", text="one two three " * 10)
    stream = client.chat.completions.create(model="openai:gpt-4o-mini", stream=True,
                                            stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "count"}])
    chunks = list(stream)
    request_id = chunks[0].id.removeprefix("chatcmpl-")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three " * 10
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert chunks[-2].choices[0].finish_reason == "stop"
    row = gateway_server.ledger_rows([request_id]).iloc[0]
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (
        row["input_tokens"], row["output_tokens"])


def test_async_client_and_concurrent_requests_each_booked_once(gateway_server, fake_llm):
    import asyncio

    async def main():
        client = gateway_server.async_client()
        tasks = [client.chat.completions.with_raw_response.create(
            model="openai:gpt-4o-mini", messages=[{"role": "user", "content": f"q{i} answer: {i}"}])
            for i in range(40)]
        return await asyncio.gather(*tasks)

    responses = asyncio.run(main())
    assert sorted(r.parse().choices[0].message.content for r in responses) == sorted(str(i) for i in range(40))
    ids = [r.headers["x-tradeoff-request-id"] for r in responses]
    assert len(set(ids)) == 40
    assert_ledger_matches_fake(gateway_server, fake_llm, ids)


def test_unknown_models_and_bad_bodies_get_openai_errors_naming_the_problem(gateway_server, fake_llm):
    client = gateway_server.client()
    with pytest.raises(openai.NotFoundError) as err:
        chat(client, "tradeoff/no-such-policy", "hi")
    assert err.value.body["param"] == "model" and "no-such-policy" in err.value.body["message"]
    with pytest.raises(openai.NotFoundError) as err:
        chat(client, "acme:big-model", "hi")
    assert "Unknown provider" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="openai:gpt-4o-mini", messages=[])
    assert err.value.body["param"] == "messages"
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="openai:gpt-4o-mini", max_tokens=-3,
                                       messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["param"] == "max_tokens" and "between" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="openai:gpt-4o-mini",
                                       messages=[{"role": "user", "content": [{"type": "image_url"}]}])
    assert err.value.body["param"] == "messages[0].content[0]"
    import httpx

    resp = httpx.post(gateway_server.url + "/v1/chat/completions", content=b"{not json",
                      headers={"content-type": "application/json"})
    assert resp.status_code == 400 and "not valid JSON" in resp.json()["error"]["message"]
    assert fake_llm.calls == []  # nothing refused ever reached a provider


def test_provider_outage_retries_then_answers_503_and_books_every_attempt(gateway_server, fake_llm):
    client = gateway_server.client()
    with pytest.raises(openai.APIStatusError) as err:
        chat(client, "openai:always-429", "hi")
    assert err.value.status_code == 503
    assert "rate limited" in err.value.body["message"]
    headers = err.value.response.headers
    assert fake_llm.count(model="always-429") == 3  # one try and two retries
    assert_ledger_matches_fake(gateway_server, fake_llm, [headers["x-tradeoff-request-id"]])
    fake_llm.reset()
    with pytest.raises(openai.APIStatusError) as err:
        chat(client, "anthropic:always-500", "hi")
    assert err.value.status_code == 502
    assert "sk-ant" not in err.value.body["message"]


def test_flaky_provider_is_retried_and_answers(gateway_server, fake_llm):
    text, headers = chat(gateway_server.client(), "openai:flaky-gpt", "hello answer: yes")
    assert text == "yes"
    assert fake_llm.count(model="flaky-gpt") == 2
    rows = gateway_server.ledger_rows([headers["x-tradeoff-request-id"]])
    assert sorted(rows["status"]) == ["ok", "rate_limited"]


def test_models_health_and_metrics(gateway_server, fake_llm):
    import httpx

    models = gateway_server.client().models.list()
    ids = [m.id for m in models.data]
    assert "openai:gpt-4o-mini" in ids and "anthropic:claude-haiku-4-5" in ids
    health = httpx.get(gateway_server.url + "/health").json()
    assert health["store"]["state"] == "ok" and health["serving"] is True
    assert "segments" in health["ledger_backlog"]
    chat(gateway_server.client(), "openai:gpt-4o-mini", "x answer: y")
    text = httpx.get(gateway_server.url + "/metrics").text
    assert 'tradeoff_gateway_provider_calls_total{model="gpt-4o-mini",provider="openai",status="ok"}' in text


def test_a_client_that_disconnects_mid_stream_is_still_billed(gateway_server, fake_llm):
    import httpx

    fake_llm.script("ok", model="gpt-4o-mini", text="word " * 400)
    with httpx.stream("POST", gateway_server.url + "/v1/chat/completions", timeout=10, json={
            "model": "openai:gpt-4o-mini", "stream": True,
            "messages": [{"role": "user", "content": "talk"}]}) as resp:
        request_id = resp.headers["x-tradeoff-request-id"]
        next(resp.iter_bytes())  # read the first chunk, then hang up
    rows = gateway_server.ledger_rows([request_id])
    assert len(rows) == 1 and rows["output_tokens"].iloc[0] == 500
    assert rows["cost_usd"].iloc[0] > 0


def test_a_refused_provider_key_is_a_502_that_never_shows_the_key(gateway_server, fake_llm):
    fake_llm.valid_keys = {"openai": {"another-key"}}
    with pytest.raises(openai.APIStatusError) as err:
        chat(gateway_server.client(), "openai:gpt-4o-mini", "hi")
    assert err.value.status_code == 502
    message = err.value.body["message"]
    assert "refused the gateway's API key" in message and "[redacted]" in message
    assert "sk-fake" not in message and "6789" not in message
    assert fake_llm.count(model="gpt-4o-mini") == 1  # an auth failure is not retried
    spool = gateway_server.location.spool_dir
    spooled = b"".join(p.read_bytes() for p in spool.iterdir() if p.is_file())
    assert b"sk-fake" not in spooled
    stored = gateway_server.ledger().astype(str).to_csv()  # and what the spool committed
    assert "sk-fake" not in stored and "refused" not in stored


def test_the_chat_route_takes_a_chunked_body_and_hides_a_defect_behind_a_plain_500(gateway_server, fake_llm,
                                                                                 monkeypatch):
    import httpx
    import orjson

    url = gateway_server.url + "/v1/chat/completions"
    body = orjson.dumps({"model": "openai:gpt-4o-mini",
                         "messages": [{"role": "user", "content": "Capital of France? answer: Paris"}]})
    pieces = iter([body[:10], body[10:25], body[25:]])  # sent as a chunked request body
    resp = httpx.post(url, content=pieces, headers={"content-type": "application/json"})
    assert resp.status_code == 200 and resp.json()["choices"][0]["message"]["content"] == "Paris"
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["x-tradeoff-models"] == "openai:gpt-4o-mini"
    assert httpx.get(url).status_code == 405  # other methods still go through the router

    async def defect(*args, **kwargs):
        raise RuntimeError("secret internals sk-live-123")

    monkeypatch.setattr(gateway_server.engine, "complete", defect)
    resp = httpx.post(url, content=body, headers={"content-type": "application/json"})
    assert (resp.status_code, resp.text) == (500, "Internal Server Error")
    assert resp.headers["content-type"].startswith("text/plain")

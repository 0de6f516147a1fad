"""Each real SDK, over real HTTP, against the local wire-format server (tests/helpers/fake_llm_server.py)."""
from __future__ import annotations

import asyncio
import json
import logging
import urllib.request

import pytest

from core.errors import InputError
from core.live.providers import ChatRequest, ProviderError, get_provider, parse_model_id
from tests.helpers.fake_llm_server import FakeLLMServer, default_answer, prompt_hash

KEYS = {"anthropic": "sk-ant-test-0123456789", "openai": "sk-test-0123456789",
        "gemini": "AIzaTest0123456789abc", "local": None}
ALL = ["anthropic", "openai", "gemini", "local"]


def run(coro):
    return asyncio.run(coro)


def provider_for(server: FakeLLMServer, name: str, key: str | None = "default", timeout: float = 5.0):
    return get_provider(name, api_key=KEYS[name] if key == "default" else key,
                        base_url=server.base_urls[name], timeout=timeout)


async def call(provider, request):
    try:
        return await provider.complete(request)
    finally:
        await provider.aclose()


def failure(provider, request) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        run(call(provider, request))
    return info.value


SYSTEM = "Classify the question.\nLabels: A | B | C\nAnswer as <label>X</label><confidence>0.9</confidence>"


@pytest.mark.parametrize("name", ALL)
def test_success_carries_text_usage_and_request_id(fake_llm, name):
    fake_llm.prompt_cache = True
    user = "Which letter? answer: B"
    provider = provider_for(fake_llm, name)

    async def twice():
        try:
            first = await provider.complete(ChatRequest(model="m-1", user=user, system=SYSTEM))
            second = await provider.complete(ChatRequest(model="m-1", user=user, system=SYSTEM))
            return first, second
        finally:
            await provider.aclose()

    first, second = run(twice())
    assert "B" in first.text
    # The fake counts one token per 4 characters: system + user + 4 framing tokens.
    expected_input = -(-len(SYSTEM) // 4) + -(-len(user) // 4) + 4
    system_tokens = -(-len(SYSTEM) // 4)
    assert first.input_tokens == second.input_tokens == expected_input
    assert first.output_tokens == -(-len(first.text) // 4)
    # Second call reads the system prompt from the cache (every provider reports cache reads).
    assert first.cached_read_tokens == 0
    assert second.cached_read_tokens == system_tokens
    if name == "anthropic":  # only Anthropic reports cache writes
        assert first.cached_write_tokens == system_tokens
    assert first.request_id and second.request_id and first.request_id != second.request_id
    assert first.latency_ms > 0
    assert first.raw_model == "m-1"
    assert fake_llm.call_counts()[(name, "m-1", prompt_hash(user))] == 2


def test_structured_outputs_are_requested_in_each_wire_format(fake_llm):
    schema = {"type": "object", "properties": {"label": {"type": "string"},
                                               "confidence": {"type": "number"}},
              "required": ["label", "confidence"], "additionalProperties": False}
    for name in ("openai", "gemini", "local"):
        response = run(call(provider_for(fake_llm, name),
                            ChatRequest(model="m", user="answer: C", schema=schema,
                                        response_format="json")))
        assert json.loads(response.text)["label"] == "C", name


def test_openai_logprobs_give_the_label_token_probability(fake_llm):
    user = "pick answer: A"
    label, confidence = default_answer("m-q100", "Labels: A | B", user)
    response = run(call(provider_for(fake_llm, "openai"),
                        ChatRequest(model="m-q100", user=user, system="Labels: A | B",
                                    response_format="json", logprobs=True)))
    assert json.loads(response.text)["label"] == label == "A"
    assert response.logprob_confidence == pytest.approx(confidence, abs=1e-9)


def errors_of(provider, requests) -> list[ProviderError | None]:
    """Send each request in turn on one client; the ProviderError each raised (None if none)."""
    async def go():
        out = []
        try:
            for request in requests:
                try:
                    await provider.complete(request)
                    out.append(None)
                except ProviderError as err:
                    out.append(err)
        finally:
            await provider.aclose()
        return out

    return run(go())


@pytest.mark.parametrize("name", ALL)
def test_failures_map_to_kinds_with_the_right_retry_flags(fake_llm, name):
    fake_llm.script("rate_limit", provider=name, model="rl", retry_after=7)
    fake_llm.script("rate_limit", provider=name, model="rl-fraction", retry_after=0.25)
    rate, fraction, server, malformed, bad = errors_of(provider_for(fake_llm, name), [
        ChatRequest(model="rl", user="x"), ChatRequest(model="rl-fraction", user="x"),
        ChatRequest(model="always-500", user="x"), ChatRequest(model="always-malformed", user="x"),
        ChatRequest(model="always-400", user="x")])
    assert (rate.kind, rate.status, rate.retryable) == ("rate_limited", 429, True)
    assert rate.retry_after == pytest.approx(7.0) and fraction.retry_after == pytest.approx(0.25)
    assert (server.kind, server.status, server.retryable) == ("server_error", 500, True)
    assert (malformed.kind, malformed.retryable) == ("malformed", False)
    assert (bad.kind, bad.status, bad.retryable) == ("bad_request", 400, False)
    if name != "local":
        (overloaded,) = errors_of(provider_for(fake_llm, name), [ChatRequest(model="always-503", user="x")])
        assert overloaded.kind == "server_error" and overloaded.retryable
        assert overloaded.status == (529 if name == "anthropic" else 503)


@pytest.mark.parametrize("name", ALL)
def test_timeout_is_retryable(fake_llm, name):
    fake_llm.script("timeout", provider=name, hang=3)
    err = failure(provider_for(fake_llm, name, timeout=0.3), ChatRequest(model="m", user="slow"))
    assert err.kind == "timeout" and err.retryable
    assert fake_llm.count(provider=name) == 1  # logged on arrival, though never answered in time


@pytest.mark.parametrize("name", ["anthropic", "openai", "gemini"])
def test_wrong_key_is_auth_and_never_echoed(fake_llm, name, caplog):
    wrong = {"anthropic": "sk-ant-wrong-9f8e7d6c5b4a", "openai": "sk-wrong-9f8e7d6c5b4a3921",
             "gemini": "AIzaWrongKey9f8e7d6c5b4a"}[name]
    with caplog.at_level(logging.DEBUG):
        err = failure(provider_for(fake_llm, name, key=wrong), ChatRequest(model="m", user="x"))
    assert err.kind == "auth" and not err.retryable
    text = str(err) + repr(err) + err.message
    assert wrong not in text
    assert wrong[:8] not in text and wrong[-4:] not in text  # not even the masked prefix/suffix
    assert wrong not in caplog.text


def test_openai_wrong_key_message_would_echo_the_prefix_without_redaction(fake_llm):
    """The server echoes the key like OpenAI does; the adapter is what removes it."""
    import openai

    async def raw():
        client = openai.AsyncOpenAI(api_key="sk-wrong-9f8e7d6c5b4a3921",
                                    base_url=fake_llm.base_urls["openai"], max_retries=0)
        try:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        except openai.AuthenticationError as exc:
            return str(exc)
        finally:
            await client.close()

    assert "sk-wrong" in run(raw())


def test_missing_key_fails_before_any_call(fake_llm):
    err = failure(provider_for(fake_llm, "openai", key=""), ChatRequest(model="m", user="x"))
    assert err.kind == "auth" and "OPENAI_API_KEY" in err.message
    assert fake_llm.count() == 0


def test_local_needs_no_key_and_reads_local_base_url(fake_llm, monkeypatch):
    monkeypatch.setenv("LOCAL_BASE_URL", fake_llm.base_urls["local"])
    provider = get_provider("local", api_key=None)
    response = run(call(provider, ChatRequest(model="llama3.1:8b", user="answer: yes")))
    assert response.text == "yes"
    assert fake_llm.count(provider="local", model="llama3.1:8b") == 1


def test_base_urls_and_keys_come_from_the_environment(fake_llm, monkeypatch):
    for name, value in fake_llm.env().items():
        monkeypatch.setenv(name, value)
    for name in ("anthropic", "openai", "gemini"):
        response = run(call(get_provider(name), ChatRequest(model="env-model", user="answer: ok")))
        assert "ok" in response.text
        assert fake_llm.count(provider=name, model="env-model") == 1


def test_connection_refused_is_a_retryable_connection_error():
    from tests.fixtures.app import free_port

    port = free_port()  # nothing listens here
    for name in ("openai", "anthropic", "gemini"):
        provider = get_provider(name, api_key=KEYS[name], base_url=f"http://127.0.0.1:{port}"
                                + ("/v1" if name == "openai" else ""), timeout=2)
        err = failure(provider, ChatRequest(model="m", user="x"))
        assert err.kind == "connection" and err.retryable, name


def test_a_provider_survives_a_new_event_loop(fake_llm):
    """Streamlit reruns start new loops: the adapter rebuilds its client instead of failing."""
    provider = provider_for(fake_llm, "openai")
    first = run(provider.complete(ChatRequest(model="m", user="answer: a")))
    second = run(provider.complete(ChatRequest(model="m", user="answer: b")))
    assert (first.text, second.text) == ("a", "b")


def test_parse_model_id():
    assert parse_model_id("anthropic:claude-haiku-4-5") == ("anthropic", "claude-haiku-4-5")
    assert parse_model_id(" Gemini:gemini-2.5-flash ") == ("gemini", "gemini-2.5-flash")
    assert parse_model_id("local:qwen2.5:7b") == ("local", "qwen2.5:7b")
    with pytest.raises(InputError, match="anthropic, openai, gemini, local"):
        parse_model_id("mistral:large")
    with pytest.raises(InputError, match="PROVIDER:MODEL"):
        parse_model_id("gpt-4o")
    with pytest.raises(InputError):
        get_provider("cohere")


# ---- the fake server itself (the runner's tests rely on these behaviours) ---------------------
def test_fake_server_scripts_are_consumed_in_order_and_logged(fake_llm):
    fake_llm.script("server_error", model="m", times=2)
    provider = provider_for(fake_llm, "openai")
    kinds = []
    for _ in range(3):
        try:
            run(call(provider, ChatRequest(model="m", user="q answer: z")))
            kinds.append("ok")
        except ProviderError as err:
            kinds.append(err.kind)
    assert kinds == ["server_error", "server_error", "ok"]
    assert fake_llm.call_counts() == {("openai", "m", prompt_hash("q answer: z")): 3}
    assert fake_llm.call_counts(status=200) == {("openai", "m", prompt_hash("q answer: z")): 1}


def test_fake_server_flaky_model_fails_once_per_prompt(fake_llm):
    provider = provider_for(fake_llm, "anthropic")
    with pytest.raises(ProviderError):
        run(call(provider, ChatRequest(model="x-flaky", user="one")))
    assert run(call(provider, ChatRequest(model="x-flaky", user="one"))).text
    with pytest.raises(ProviderError):
        run(call(provider, ChatRequest(model="x-flaky", user="two")))


def test_fake_server_quality_knob_is_deterministic():
    users = [f"item {i} answer: A" for i in range(400)]
    answers = [default_answer("small-q70", "Labels: A | B | C", u) for u in users]
    accuracy = sum(label == "A" for label, _ in answers) / len(users)
    assert 0.6 < accuracy < 0.8
    assert answers == [default_answer("small-q70", "Labels: A | B | C", u) for u in users]
    wrong = [c for label, c in answers if label != "A"]
    right = [c for label, c in answers if label == "A"]
    assert max(wrong) < min(right)  # wrong answers come with lower confidence
    assert all(label in ("A", "B", "C") for label, _ in answers)


def test_fake_server_control_endpoints(fake_llm):
    def post(path, body):
        req = urllib.request.Request(fake_llm.url + path, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    post("/_fake/script", {"kind": "rate_limit", "model": "m", "params": {"retry_after": 2}})
    err = failure(provider_for(fake_llm, "gemini"), ChatRequest(model="m", user="x"))
    assert err.kind == "rate_limited" and err.retry_after == 2.0
    with urllib.request.urlopen(fake_llm.url + "/_fake/calls", timeout=5) as resp:
        calls = json.loads(resp.read())
    assert [(c["provider"], c["status"]) for c in calls] == [("gemini", 429)]
    post("/_fake/reset", {})
    assert fake_llm.calls == []


def test_reasoning_and_thinking_models_get_room_and_no_unsupported_parameters(fake_llm):
    ask = ChatRequest(model="", user="answer: A", max_tokens=64, temperature=0.0, logprobs=True)
    for name, model in [("openai", "gpt-4.1-mini"), ("openai", "gpt-5-mini"), ("openai", "o4-mini"),
                        ("gemini", "gemini-2.0-flash"), ("gemini", "gemini-2.5-flash"),
                        ("anthropic", "claude-haiku-4-5")]:
        run(call(provider_for(fake_llm, name), ChatRequest(**{**ask.__dict__, "model": model})))
    sent = {c["model"]: c for c in fake_llm.calls}
    assert (sent["gpt-4.1-mini"]["max_tokens"], sent["gpt-4.1-mini"]["temperature"],
            sent["gpt-4.1-mini"]["logprobs"]) == (64, 0.0, True)
    for model in ("gpt-5-mini", "o4-mini"):
        assert (sent[model]["max_tokens"], sent[model]["temperature"], sent[model]["logprobs"]) == \
            (4096, None, False)
    assert sent["gemini-2.0-flash"]["max_tokens"] == 64
    assert sent["gemini-2.5-flash"]["max_tokens"] == 4096
    assert sent["claude-haiku-4-5"]["max_tokens"] == 64
    assert sent["claude-haiku-4-5"]["temperature"] is None  # anthropic SDK 2.x has no temperature

"""The live runner through the real SDKs over HTTP against the fake provider server.

Each test uses model names of its own so the server's call log (shared by the module) can be
filtered per test.
"""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from core.evaluation.loading import load_csv
from core.evaluation.store import load_evalset
from core.live.cache import CacheConfig
from core.live.limits import CircuitBreaker, TokenBucket, backoff_delay
from core.live.run import LiveRun, RunConfig
from core.live.store import list_runs, run_calls
from tests.helpers.fake_llm_server import FakeLLMServer


class InFlight:
    """ASGI wrapper counting model requests in flight at the server (its loop is one thread)."""

    def __init__(self, app):
        self.app = app
        self.now = 0
        self.max = 0

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        counted = scope["type"] == "http" and not path.startswith("/_fake")
        if counted:
            self.now += 1
            self.max = max(self.max, self.now)
        try:
            await self.app(scope, receive, send)
        finally:
            if counted:
                self.now -= 1


@pytest.fixture(scope="module")
def server():
    srv = FakeLLMServer()
    srv.app = InFlight(srv.app)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def env(server, monkeypatch):
    server.reset()
    server.app.max = 0
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    return server


def evalset(n: int, name: str = "live.csv", prefix: str = "q"):
    labels = ["yes", "no"]
    rows = [{"item_id": f"{prefix}{i}", "input": f"Is {prefix} {i} even? answer: {labels[i % 2]}",
             "label": labels[i % 2], "task": "classify"} for i in range(n)]
    return load_csv(pd.DataFrame(rows).to_csv(index=False).encode(), name=name)


def fast(**kw) -> RunConfig:
    base = dict(concurrency=4, max_retries=3, backoff_base_s=0.01, backoff_cap_s=0.05,
                breaker_threshold=50, timeout_s=30.0, flush_interval_s=0.05,
                cache=CacheConfig(enabled=False))
    base.update(kw)
    return RunConfig(**base)


# -- flow-control units ------------------------------------------------------------------------
def test_token_bucket_spaces_requests_at_the_rate():
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=2, clock=lambda: now[0])
    waits = [bucket.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.5])
    now[0] = 10.0  # refilled, but never above the burst
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.5])


def test_backoff_full_jitter_bounds_and_retry_after_floor():
    rng = random.Random(7)
    for attempt in range(8):
        delays = [backoff_delay(attempt, 0.5, 4.0, None, rng) for _ in range(200)]
        assert min(delays) >= 0 and max(delays) <= min(4.0, 0.5 * 2 ** attempt)
    assert all(backoff_delay(0, 0.5, 4.0, 3.0, rng) >= 3.0 for _ in range(50))


def test_circuit_breaker_opens_probes_and_closes():
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown=10, clock=lambda: now[0])
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allow() and breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 10.0
    assert breaker.allow() and not breaker.allow()  # one probe only
    breaker.record_failure()  # the probe failed: open again for a full cool-down
    assert breaker.state == "open"
    now[0] = 20.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow() and breaker.times_opened == 2


# -- runs over HTTP ------------------------------------------------------------------------------
def test_concurrency_cap_is_respected_at_the_server(env, ws):
    es = evalset(15)
    run = LiveRun(ws, es, ["openai:cap-lat100ms", "anthropic:cap-lat100ms"], fast(concurrency=3))
    seen = []
    result = run.run(progress=seen.append)
    errors = run_calls(ws, run.run_id)["error_message"].dropna().unique().tolist()
    done = [p.done for p in seen]
    assert done == sorted(done) and seen[-1].done == seen[-1].total == 30
    assert seen[-1].saved == 30 and seen[-1].status == "finished" and seen[-1].eta_s == 0
    assert result.status == "finished" and result.progress.ok == 30, errors
    assert env.app.max == 3
    assert env.count(model="cap-lat100ms", status=200) == 30
    stored = load_evalset(ws, result.results_evalset_id)
    assert stored.models == ("anthropic:cap-lat100ms", "openai:cap-lat100ms")
    assert np.nanmean(stored.score) == 1.0  # the fake answers the gold label
    assert (stored.input_tokens > 0).all() and (stored.latency_ms > 0).all()


def test_429_is_retried_no_sooner_than_retry_after(env, ws):
    env.script("rate_limit", model="ra-model", times=1, retry_after=0.4)
    run = LiveRun(ws, evalset(1), ["openai:ra-model"], fast())
    assert run.run().progress.ok == 1
    row = run_calls(ws, run.run_id).iloc[0]
    assert row["status"] == "ok" and row["attempts"] == 2 and row["retry_wait_s"] >= 0.4
    calls = [c for c in env.calls if c["model"] == "ra-model"]
    assert [c["status"] for c in calls] == [429, 200]
    assert calls[1]["ts"] - calls[0]["ts"] >= 0.4


def test_500_then_success_and_timeout_retried(env, ws):
    env.script("server_error", model="five-hundred", times=1)
    env.script("timeout", model="slowpoke", times=1, hang=3.0)
    run = LiveRun(ws, evalset(1), ["anthropic:five-hundred", "gemini:slowpoke"],
                  fast(timeout_s=0.5))
    result = run.run()
    assert result.progress.ok == 2 and result.progress.failed == 0
    rows = run_calls(ws, run.run_id).set_index("model")
    assert rows.loc["anthropic:five-hundred", "attempts"] == 2
    assert rows.loc["gemini:slowpoke", "attempts"] == 2
    assert [c["status"] for c in env.calls if c["model"] == "five-hundred"] == [500, 200]


def test_a_429_burst_pauses_the_run_instead_of_failing_it(env, ws):
    """Four rate-limit answers in a row: the third opens the breaker, the probe after the
    cool-down gets the fourth, the next probe succeeds. The calls wait; none is marked failed
    and each pair is answered once. (Before, every queued pair failed at once as
    'circuit_open'.)"""
    env.script("rate_limit", model="burst", times=4, retry_after=0.01)
    run = LiveRun(ws, evalset(20, prefix="b"), ["openai:burst"],
                  fast(concurrency=1, max_retries=6, breaker_threshold=3, breaker_cooldown_s=1.0))
    result = run.run()
    rows = run_calls(ws, run.run_id).set_index("item_id")
    assert result.status == "finished" and result.progress.failed == 0, \
        rows["error_message"].dropna().unique().tolist()
    assert result.progress.ok == 20 and set(rows["status"]) == {"ok"}
    assert env.count(model="burst", status=429) == 4
    answered = env.call_counts(status=200)
    assert len(answered) == 20 and set(answered.values()) == {1}
    # the first item waited out two cool-downs (the failed probe re-opened the breaker)
    assert rows.loc["b0", "attempts"] == 5 and rows.loc["b0", "retry_wait_s"] >= 1.9


def test_a_provider_that_stays_down_fails_with_its_own_http_error(env, ws):
    """The breaker opens after 3 failures; 2 probes after the cool-down fail too: the provider
    is down, and the calls not sent say so with its HTTP status, never a bare 'circuit_open'."""
    run = LiveRun(ws, evalset(10), ["openai:always-500-brk"],
                  fast(concurrency=1, max_retries=0, breaker_threshold=3, breaker_cooldown_s=0.1,
                       breaker_probes=2))
    result = run.run()
    assert result.progress.failed == 10 and result.results_evalset_id is None
    assert env.count(model="always-500-brk") == 5  # 3 to open it, then 2 probes
    rows = run_calls(ws, run.run_id)
    assert set(rows["status"]) == {"failed"} and set(rows["error_kind"]) == {"server_error"}
    sent, unsent = rows[rows["attempts"] > 0], rows[rows["attempts"] == 0]
    assert len(sent) == 5 and len(unsent) == 5
    assert all(m.startswith("openai HTTP 500 server_error") for m in sent["error_message"])
    assert all(m.startswith("openai HTTP 500 server_error: not sent: openai failed 3 calls in a "
                            "row, then 2 probe(s)") and "last error: openai HTTP 500" in m
               for m in unsent["error_message"]), unsent["error_message"].tolist()
    ledger = ws.cursor().execute(
        "select status, count(*) from ledger where eval_run = ? group by all order by 1",
        [run.run_id]).fetchall()
    assert ledger == [("server_error", 5)]  # calls never sent spent nothing: not in the ledger
    assert list_runs(ws).set_index("run_id").loc[run.run_id, "status"] == "finished"


def test_fallback_chain_answers_when_a_model_fails_for_good(env, ws):
    primary, backup = "openai:always-401-fb", "anthropic:backup-fb"
    run = LiveRun(ws, evalset(4), [primary],
                  fast(concurrency=2, max_retries=2, fallbacks={primary: [backup]}))
    result = run.run()
    assert result.progress.ok == 4 and result.progress.failed == 0
    assert env.count(model="always-401-fb") == 4  # auth is not retried
    rows = run_calls(ws, run.run_id)
    assert set(rows["answered_by"]) == {backup} and set(rows["model"]) == {primary}
    ledger = ws.cursor().execute(
        "select provider, model, status from ledger where eval_run = ? order by 1, 3",
        [run.run_id]).fetchall()
    assert ledger.count(("openai", "always-401-fb", "auth")) == 4
    assert ledger.count(("anthropic", "backup-fb", "ok")) == 4
    stored = load_evalset(ws, result.results_evalset_id)
    assert stored.models == (primary,) and np.nanmean(stored.score) == 1.0
    assert any("fallback" in note for note in stored.notes)


def test_spend_cap_stops_the_run_cleanly(env, ws):
    run = LiveRun(ws, evalset(12), ["openai:capped"], fast(concurrency=2, spend_cap_usd=0.05),
                  cost_fn=lambda provider, model, usage: 0.01)
    result = run.run()
    assert result.status == "spend_cap" and result.progress.ok == 5
    assert result.progress.spend_usd == pytest.approx(0.05)
    assert env.count(model="capped") == 5
    spent = ws.cursor().execute("select sum(cost_usd) from ledger where eval_run = ?",
                                [run.run_id]).fetchall()[0][0]
    assert spent == pytest.approx(0.05)
    # The estimate of what is left is per model, from the catalog price of each call.
    left = run.estimate()
    assert left["calls"].tolist() == [7] and left["cost_usd"].tolist() == pytest.approx([0.07])


def test_cache_hit_spends_nothing_but_keeps_the_answers_price(env, ws):
    es = evalset(6)
    config = fast(cache=CacheConfig(enabled=True))
    first = LiveRun(ws, es, ["openai:cached-model"], config, cost_fn=lambda p, m, u: 0.002)
    assert first.run().progress.ok == 6
    second = LiveRun(ws, es, ["openai:cached-model"], config, cost_fn=lambda p, m, u: 0.002)
    result = second.run()
    assert result.progress.cached == 6 and result.progress.ok == 0
    assert env.count(model="cached-model") == 6  # no second call reached the server
    # The ledger and the run's spend: the real $0, flagged as cache hits.
    rows = ws.cursor().execute(
        "select cache_hit, cost_usd, status, count(*) from ledger where eval_run = ? group by all",
        [second.run_id]).fetchall()
    assert rows == [(True, 0.0, "ok", 6)]
    assert result.progress.spend_usd == 0.0
    assert list_runs(ws).set_index("run_id").loc[second.run_id, "spend_usd"] == 0.0
    # The eval set: each answer at its model's price (6 x $0.002), as when it was paid for.
    stored = load_evalset(ws, result.results_evalset_id)
    assert np.nanmean(stored.score) == 1.0
    assert stored.cost[:, 0].tolist() == pytest.approx([0.002] * 6)
    assert second.results_frame()["cost_usd"].sum() == pytest.approx(0.012)


def test_rerun_skips_answered_pairs_and_retries_failures(env, ws):
    env.script("server_error", model="half", contains="q 1 ", times=-1)
    config = fast(max_retries=0)
    run = LiveRun(ws, evalset(4), ["openai:half"], config, run_id="fixed-run")
    first = run.run()
    assert (first.progress.ok, first.progress.failed) == (3, 1)
    env.reset()
    again = LiveRun(ws, evalset(4), ["openai:half"], config, run_id="fixed-run").run()
    assert again.progress.resumed == 3 and again.progress.ok == 1 and again.progress.failed == 0
    assert env.count(model="half") == 1  # only the failed pair was asked again
    assert run_calls(ws, "fixed-run")["status"].tolist() == ["ok"] * 4


def test_cancel_stops_and_keeps_finished_calls(env, ws):
    import threading

    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p)
        if p.done >= 3:
            cancel.set()

    run = LiveRun(ws, evalset(40), ["openai:cancel-lat20ms"], fast(concurrency=2))
    result = run.run(progress=progress, cancel=cancel)
    assert result.status == "cancelled"
    stored = run_calls(ws, run.run_id)
    assert 3 <= len(stored) < 40 and (stored["status"] == "ok").all()
    assert env.count(model="cancel-lat20ms", status=200) == len(stored)


def test_unknown_provider_and_missing_input_are_input_errors(ws):
    from core.errors import InputError

    with pytest.raises(InputError, match="provider"):
        LiveRun(ws, evalset(2), ["mystery:model"])
    labels_only = load_csv(b"item_id,model,score\n1,a,1\n", name="long.csv")
    with pytest.raises(InputError, match="input"):
        LiveRun(ws, labels_only, ["openai:x"])


def test_estimate_is_tokens_from_length_times_price(ws):
    """4 characters per token for system + input; output at max_tokens; priced per call."""
    from core.live.providers.base import ChatRequest

    def build(provider, model, task, text, labels=None):
        return ChatRequest(model=model, user=text, system="S" * 40, max_tokens=10)

    def price(provider, model, usage):  # $1 per input token, $2 per output token
        return usage.input_tokens * 1.0 + usage.output_tokens * 2.0

    es = load_csv(b"item_id,input\na,xxxx\nb,xxxxxxxxxxxx\n", name="est.csv")
    run = LiveRun(ws, es, ["openai:m"], RunConfig(), build_request=build,
                  parse_answer=lambda *a: None, cost_fn=price)
    table = run.estimate()
    # Inputs of 44 and 52 characters -> 11 and 13 tokens (mean 12); 10 output tokens per call.
    assert table.to_dict("records") == [{"model": "openai:m", "calls": 2, "input_tokens": 24,
                                         "max_output_tokens": 20, "cost_usd": 2 * (12 + 20)}]
    config = RunConfig(concurrency=3, fallbacks={"openai:m": ["gemini:n"]},
                       cache=CacheConfig(ttl_s={"*": 5.0}, semantic_threshold=0.9))
    assert RunConfig.from_dict(config.to_dict()) == config


def test_semantic_cache_reuses_a_similar_input(env, ws):
    config = fast(cache=CacheConfig(enabled=True, semantic_threshold=0.8))
    first = load_csv(b"item_id,input,label\n1,Please reset my password now answer: account,account\n",
                     name="a.csv")
    LiveRun(ws, first, ["openai:sem-model"], config).run()
    near = load_csv(b"item_id,input,label\n1,please reset my password now! answer: account,account\n"
                    b"2,Where is parcel 77 answer: shipping,shipping\n", name="b.csv")
    second = LiveRun(ws, near, ["openai:sem-model"], config)
    result = second.run()
    assert (result.progress.cached, result.progress.ok) == (1, 1)
    assert env.count(model="sem-model") == 2  # the near-duplicate never reached the server
    rows = run_calls(ws, second.run_id).set_index("item_id")
    assert rows.loc["1", "status"] == "cached" and rows.loc["1", "prediction"] == "account"


@pytest.mark.parametrize("source, expected", [("stated", 0.3), ("logprob", 0.999)])
def test_confidence_from_the_answer_or_from_logprobs(env, ws, source, expected):
    # The fake states 0.3 in its JSON but gives the label token a log-probability of ln(0.999).
    env.answer_fn = lambda parsed: '{"label": "yes", "confidence": 0.3}'
    run = LiveRun(ws, evalset(1, prefix=f"c{source}"), ["openai:lp-model"],
                  fast(confidence_source=source))
    assert run.run().progress.ok == 1
    row = run_calls(ws, run.run_id).iloc[0]
    assert row["confidence"] == pytest.approx(expected, abs=1e-6)
    assert row["logprob_confidence"] == pytest.approx(0.999, abs=1e-6)


def test_rate_limit_spaces_calls_per_provider(env, ws):
    """5 requests/s with a burst of 5: the 8th call cannot start before 0.6 s after the first
    (a guaranteed lower bound of the token bucket, measured where calls start, client side)."""
    import time

    from core.live.providers import get_provider

    starts = []

    class Recording:
        def __init__(self, inner):
            self.inner = inner

        async def complete(self, request):
            starts.append(time.monotonic())
            return await self.inner.complete(request)

        async def aclose(self):
            await self.inner.aclose()

    run = LiveRun(ws, evalset(8, prefix="rl"), ["openai:rl-model"],
                  fast(concurrency=8, rate_limits={"openai": 5.0}),
                  provider_factory=lambda name: Recording(get_provider(name)))
    assert run.run().progress.ok == 8
    assert len(starts) == 8 and max(starts) - min(starts) >= 0.6 - 1e-3


def test_a_journal_left_by_a_killed_attempt_is_replayed_once(env, ws):
    """What a killed attempt journaled reaches the workspace when the run resumes, once; a
    line cut short by the kill is skipped, and a late failure never replaces an answer."""
    from core.live.journal import RunJournal, journal_path, replay

    run = LiveRun(ws, evalset(3, prefix="j"), ["openai:journaled"], fast())
    first = run.run()  # a real attempt, to have real rows to journal
    rows = run_calls(ws, run.run_id)
    ledger = ws.cursor().execute("select * from ledger where eval_run = ?", [run.run_id]).df()
    assert first.progress.ok == 3
    # the same run in another workspace, as if the process had died before its bulk write
    from core.workspace import open_workspace

    other = open_workspace(ws.path.parent / "other.duckdb")
    try:
        from core.live.store import create_run

        create_run(other, run.run_id, "again", run.models, {}, 3)
        journal = RunJournal.open(other, run.run_id)
        for record in rows.to_dict("records"):
            mine = ledger[ledger["call_id"] == record["call_id"]].to_dict("records")
            journal.append(record, mine)
        failed = dict(rows.iloc[0].to_dict(), status="failed", error_message="late failure",
                      call_id="late")
        journal.append(failed, [])
        journal.close(remove=False)  # the process died: the journal stays
        with open(journal_path(other, run.run_id), "a") as fh:
            fh.write('{"call": {"run_id": "cut sho')  # the kill hit mid-line
        assert replay(other, run.run_id) == 4 and not journal_path(other, run.run_id).exists()
        assert replay(other, run.run_id) == 0
        again = run_calls(other, run.run_id)
        assert set(again["status"]) == {"ok"} and len(again) == 3  # the answer was kept
        spent = other.cursor().execute("select count(*), sum(cost_usd) from ledger").fetchone()
        assert spent[0] == 3
    finally:
        other.close()


def test_a_key_echoed_in_an_answer_is_redacted_before_it_is_stored(env, ws):
    """A prompt injection makes the model repeat the request's key: neither run_calls, the
    cache nor the eval set built from the run holds it."""
    env.answer_fn = lambda parsed: f"yes (by the way, your key is {parsed.key})"
    key = "sk-echo-secret-key-0123456789"
    run = LiveRun(ws, evalset(2, prefix="k"), ["openai:echo"],
                  fast(cache=CacheConfig(enabled=True)), keys={"openai": key})
    result = run.run()
    assert result.progress.ok == 2
    outputs = run_calls(ws, run.run_id)["output"].tolist()
    assert all("[redacted]" in o and key not in o for o in outputs), outputs
    dump = "\n".join(str(row) for table in ("run_calls", "llm_cache")
                     for row in ws.cursor().execute(f"select * from {table}").fetchall())
    assert key not in dump and "sk-echo" not in dump
    stored = load_evalset(ws, result.results_evalset_id)
    assert all(key not in str(o) for o in stored.output.ravel())

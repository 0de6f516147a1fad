"""Every policy kind served live through the gateway, checked against its own offline evaluate():
the same requests, as a one-column-per-model eval set built from what the fake providers answer,
must route the same way. The ledger matches the fake servers' request log exactly."""
from __future__ import annotations

import numpy as np
import openai
import pandas as pd
import pytest

from core.evaluation.evalset import EvalSet
from core.routing.policies import (
    Cascade,
    FallbackChain,
    MajorityEnsemble,
    SingleModel,
    TaskRouter,
    ValueTiers,
    WeightedSelection,
)
from tests.gateway.helpers import assert_ledger_matches_fake, chat
from tests.helpers.fake_llm_server import default_answer

MINI, BIG, CLAUDE, FLASH = ("openai:gpt-4o-mini", "openai:gpt-4o", "anthropic:claude-haiku-4-5",
                            "gemini:gemini-2.0-flash")
QUESTIONS = [f"Question {i}: which code? answer: C{i}" for i in range(16)]


def offline(models, answers=None, confidence=None, texts=QUESTIONS, **items) -> EvalSet:
    """The requests as an eval set: what each model answered and how sure it said it was."""
    n, m = len(texts), len(models)
    frame = pd.DataFrame({"item_id": [str(i) for i in range(n)], "input": texts, **items})
    pred = np.array(answers, dtype=object).reshape(n, m) if answers is not None else \
        np.full((n, m), None, dtype=object)
    conf = np.array(confidence, dtype=float).reshape(n, m) if confidence is not None else np.full((n, m), np.nan)
    return EvalSet.from_arrays("requests", models, score=np.ones((n, m)), items=frame,
                               prediction=pred, confidence=conf, latency_ms=np.zeros((n, m)))


def fake_says(model_id: str, text: str, system: str = "") -> tuple[str, float]:
    return default_answer(model_id.split(":", 1)[1], system, text)


def test_single_model_policy_tags_its_name_and_revision(gateway_server, fake_llm):
    revision = gateway_server.deploy("solo", SingleModel(MINI))
    text, headers = chat(gateway_server.client(), "tradeoff/solo", "2+2? answer: 4",
                         extra_headers={"X-Tradeoff-Feature": "faq", "X-Tradeoff-Environment": "prod"})
    assert text == "4"
    assert headers["x-tradeoff-policy"] == f"solo@{revision}"
    row = gateway_server.ledger_rows([headers["x-tradeoff-request-id"]]).iloc[0]
    assert row["tags"] == f"feature:faq,environment:prod,policy:solo,policy_version:{revision}"


def test_task_router_reads_the_header_or_metadata(gateway_server, fake_llm):
    policy = TaskRouter({"billing": MINI, "legal": CLAUDE}, default=FLASH)
    gateway_server.deploy("by-task", policy)
    client = gateway_server.client()
    cases = [({"extra_headers": {"X-Tradeoff-Task": "legal"}}, "legal"),
             ({"metadata": {"task": "billing"}}, "billing"), ({}, None),
             ({"extra_headers": {"X-Tradeoff-Task": "other"}}, "other")]
    answered, ids = [], []
    for kwargs, _ in cases:
        _, headers = chat(client, "tradeoff/by-task", "hello answer: hi", **kwargs)
        answered.append(headers["x-tradeoff-answered-by"])
        ids.append(headers["x-tradeoff-request-id"])
    es = offline(policy.models_called(), texts=["x"] * 4, task=[t for _, t in cases])
    kept = policy.evaluate(es).kept
    assert answered == [es.models[k] for k in kept] == [CLAUDE, MINI, FLASH, FLASH]
    rows = gateway_server.ledger_rows(ids)
    assert sorted(rows["task"].fillna("-")) == sorted(["legal", "billing", "-", "other"])
    assert_ledger_matches_fake(gateway_server, fake_llm, ids)


def test_value_tiers_read_the_header_or_metadata(gateway_server, fake_llm):
    policy = ValueTiers([(0, MINI), (1000, BIG)])
    gateway_server.deploy("by-value", policy)
    client = gateway_server.client()
    asks = [{"extra_headers": {"X-Tradeoff-Value": "5000"}}, {"metadata": {"value_usd": "10"}},
            {"metadata": {"value_usd": "1000"}}, {}]
    answered = [chat(client, "tradeoff/by-value", "deal answer: yes", **kw)[1]["x-tradeoff-answered-by"]
                for kw in asks]
    es = offline(policy.models_called(), texts=["x"] * 4, value_usd=[5000, 10, 1000, np.nan])
    assert answered == [es.models[k] for k in policy.evaluate(es).kept] == [BIG, MINI, BIG, MINI]
    with pytest.raises(openai.BadRequestError) as err:
        chat(client, "tradeoff/by-value", "deal", metadata={"value_usd": "lots"})
    assert err.value.body["param"] == "metadata.value_usd"


def test_weighted_selection_serves_its_fitted_table(gateway_server, fake_llm):
    n = 40
    items = pd.DataFrame({"item_id": [str(i) for i in range(n)], "task": ["code"] * 20 + ["chat"] * 20})
    score = np.column_stack([np.r_[np.zeros(20), np.ones(20)], np.ones(n)])  # mini fails code
    es = EvalSet.from_arrays("train", [MINI, BIG], score=score, items=items,
                             cost=np.column_stack([np.full(n, 0.001), np.full(n, 0.01)]))
    policy = WeightedSelection({"task_fit": 1.0, "cost": 0.3}).fit(es)
    assert policy.table_ == {"chat": MINI, "code": BIG}
    gateway_server.deploy("weighted", policy)
    client = gateway_server.client()
    got = [chat(client, "tradeoff/weighted", "x answer: y", extra_headers={"X-Tradeoff-Task": t})[1]
           ["x-tradeoff-answered-by"] for t in ("code", "chat")]
    assert got == [BIG, MINI]


def test_cascade_on_self_reported_confidence_asks_for_structured_output(gateway_server, fake_llm):
    cheap = "openai:mini-q50"
    gateway_server.set_price(cheap, 0.15, 0.6)
    policy = Cascade([cheap, CLAUDE], [0.7])
    gateway_server.deploy("cascade", policy)
    client = gateway_server.client()
    texts, escalated, ids = [], [], []
    for q in QUESTIONS:
        text, headers = chat(client, "tradeoff/cascade", q)
        texts.append(text)
        escalated.append(headers["x-tradeoff-models"] == f"{cheap},{CLAUDE}")
        ids.append(headers["x-tradeoff-request-id"])
    said = [fake_says(cheap, q) for q in QUESTIONS]
    expected = policy.evaluate(offline([cheap, CLAUDE], confidence=[[c, 1.0] for _, c in said])).escalated
    assert escalated == list(expected)
    assert 0 < sum(escalated) < len(QUESTIONS)
    gold = [q.rsplit(": ", 1)[1] for q in QUESTIONS]
    assert texts == [g if esc else label for g, esc, (label, _) in zip(gold, escalated, said)]
    first = [c for c in fake_llm.calls if c["model"] == "mini-q50"]
    assert all(c["want_json"] and c["logprobs"] for c in first)  # structured output + logprobs
    assert not any(c["want_json"] for c in fake_llm.calls if c["provider"] == "anthropic")
    assert_ledger_matches_fake(gateway_server, fake_llm, ids)
    cost = gateway_server.ledger_rows(ids[:1])["cost_usd"].sum()
    assert cost > 0  # the price edit made in the workspace reached the running gateway


def test_cascade_with_logprob_confidence_uses_the_label_token_probability(gateway_server, fake_llm):
    cheap = "openai:mini-logprob"
    unsure = '{"label": "B", "confidence": 0.1}'  # stated 0.1; the label token's probability 0.999
    gateway_server.deploy("stated", Cascade([cheap, CLAUDE], [0.7]))
    gateway_server.deploy("logprob", Cascade([cheap, CLAUDE], [0.7]), confidence_source="logprob")
    client = gateway_server.client()
    fake_llm.script("ok", model="mini-logprob", text=unsure, times=2)
    text, headers = chat(client, "tradeoff/stated", "pick one answer: A")
    assert (text, headers["x-tradeoff-answered-by"]) == ("A", CLAUDE)
    text, headers = chat(client, "tradeoff/logprob", "pick one answer: A")
    assert (text, headers["x-tradeoff-models"]) == ("B", cheap)


def test_cascade_on_agreement_calls_the_peers_and_compares_normalised_answers(gateway_server, fake_llm):
    a, b = "openai:peer-a-q50", "local:peer-b-q50"
    policy = Cascade([a, CLAUDE], [1.0], signal={"kind": "agreement", "models": [a, b]})
    gateway_server.deploy("agree", policy)
    client = gateway_server.client()
    escalated, ids = [], []
    fake_llm.answer_fn = lambda p: ("  " + default_answer(p.model, p.system, p.user)[0].upper() + " "
                                    if p.model == "peer-b-q50" else default_answer(p.model, p.system, p.user)[0])
    for q in QUESTIONS:
        _, headers = chat(client, "tradeoff/agree", q)
        escalated.append(len(headers["x-tradeoff-models"].split(",")) == 3)
        ids.append(headers["x-tradeoff-request-id"])
    answers = [[fake_says(a, q)[0], fake_says(b, q)[0].upper()] for q in QUESTIONS]
    es = offline([a, b, CLAUDE], answers=[[x, y, None] for x, y in answers])
    assert escalated == list(policy.evaluate(es).escalated)
    assert 0 < sum(escalated) < len(QUESTIONS)
    assert fake_llm.count(model="peer-b-q50") == len(QUESTIONS)  # a peer is paid on every request
    assert_ledger_matches_fake(gateway_server, fake_llm, ids)


def _keyword_training(n: int = 120) -> EvalSet:
    rng = np.random.default_rng(0)
    words = ["order", "parcel", "invoice", "login", "password", "shipping", "coupon", "cart"]
    hard = np.arange(n) % 3 == 0
    texts = [" ".join(rng.choice(words, 6)) + (" refund" if h else "") for h in hard]
    items = pd.DataFrame({"item_id": [str(i) for i in range(n)], "input": texts, "task": "support"})
    score = np.column_stack([(~hard).astype(float), np.ones(n)])
    return EvalSet.from_arrays("train", [MINI, BIG], score=score, items=items,
                               cost=np.column_stack([np.full(n, 0.001), np.full(n, 0.01)]))


LEARNED_REQUESTS = ["my parcel is late refund", "login password reset", "coupon for cart",
                    "refund the invoice now", "shipping order status"]


def test_learned_cascade_and_learned_router_route_as_offline(gateway_server, fake_llm):
    from core.routing.policies.learned import LearnedRouter

    train = _keyword_training()
    cascade = Cascade([MINI, BIG], [0.5], signal={"kind": "learned"}).fit(train)
    router = LearnedRouter([MINI, BIG], threshold=0.5, C=10.0).fit(train)
    gateway_server.deploy("learned-cascade", cascade)
    gateway_server.deploy("learned-router", router)
    client = gateway_server.client()
    test = offline([MINI, BIG], texts=LEARNED_REQUESTS, task=["support"] * len(LEARNED_REQUESTS))
    live_escalated = [len(chat(client, "tradeoff/learned-cascade", t, extra_headers={
        "X-Tradeoff-Task": "support"})[1]["x-tradeoff-models"].split(",")) == 2 for t in LEARNED_REQUESTS]
    assert live_escalated == list(cascade.evaluate(test).escalated) == [True, False, False, True, False]
    live_models = [chat(client, "tradeoff/learned-router", t, extra_headers={
        "X-Tradeoff-Task": "support"})[1]["x-tradeoff-models"] for t in LEARNED_REQUESTS]
    assert live_models == [test.models[k] for k in router.evaluate(test).kept] == [BIG, MINI, MINI, BIG, MINI]


def test_majority_ensemble_calls_all_and_keeps_the_vote(gateway_server, fake_llm):
    members = ["openai:vote-a-q50", "gemini:vote-b-q50", "anthropic:vote-c-q50"]
    policy = MajorityEnsemble(members)
    gateway_server.deploy("vote", policy)
    client = gateway_server.client()
    kept, ids = [], []
    for q in QUESTIONS:
        text, headers = chat(client, "tradeoff/vote", q)
        kept.append((text, headers["x-tradeoff-answered-by"]))
        assert headers["x-tradeoff-models"].count(",") == 2
        ids.append(headers["x-tradeoff-request-id"])
    answers = [[fake_says(m, q)[0] for m in members] for q in QUESTIONS]
    outcome = policy.evaluate(offline(members, answers=answers))
    assert [m for _, m in kept] == [members[k] for k in outcome.kept]
    assert [t for t, _ in kept] == [row[k] for row, k in zip(answers, outcome.kept)]
    assert_ledger_matches_fake(gateway_server, fake_llm, ids)


def test_fallback_chain_moves_on_after_retries(gateway_server, fake_llm):
    gateway_server.deploy("chain", FallbackChain(["openai:always-503", CLAUDE]))
    text, headers = chat(gateway_server.client(), "tradeoff/chain", "hi answer: hello")
    assert text == "hello"
    assert headers["x-tradeoff-models"] == f"openai:always-503,{CLAUDE}"
    assert fake_llm.count(model="always-503") == 3
    rows = gateway_server.ledger_rows([headers["x-tradeoff-request-id"]])
    assert sorted(rows["status"]) == ["ok", "server_error", "server_error", "server_error"]
    assert_ledger_matches_fake(gateway_server, fake_llm, [headers["x-tradeoff-request-id"]])


def test_a_streamed_cascade_streams_the_final_answer(gateway_server, fake_llm):
    gateway_server.deploy("stream-cascade", Cascade(["openai:mini-q50", CLAUDE], [0.7]))
    client = gateway_server.client()
    for q in QUESTIONS[:6]:
        whole, _ = chat(client, "tradeoff/stream-cascade", q)
        chunks = list(client.chat.completions.create(model="tradeoff/stream-cascade", stream=True,
                                                     messages=[{"role": "user", "content": q}]))
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole


def test_a_redeploy_is_served_without_restart(gateway_server, fake_llm):
    first = gateway_server.deploy("hot", SingleModel(MINI))
    assert chat(gateway_server.client(), "tradeoff/hot", "x answer: y")[1]["x-tradeoff-models"] == MINI
    second = gateway_server.deploy("hot", SingleModel(CLAUDE))
    _, headers = chat(gateway_server.client(), "tradeoff/hot", "x answer: y")
    assert (headers["x-tradeoff-models"], headers["x-tradeoff-policy"]) == (CLAUDE, f"hot@{second}")
    assert second == first + 1


def test_a_saved_policy_is_served_by_its_name(gateway_server, fake_llm):
    from core.routing.optimize.store import save_policy

    ws = gateway_server.open_ws()
    try:
        save_policy(ws, "Support Fast", SingleModel(FLASH))
    finally:
        ws.close()
    gateway_server.agent.cycle(force_poll=True)
    import time

    deadline = time.monotonic() + 5
    while "support-fast" not in gateway_server.engine.served and time.monotonic() < deadline:
        time.sleep(0.02)
    assert chat(gateway_server.client(), "tradeoff/support-fast", "x answer: y")[1]["x-tradeoff-models"] == FLASH


def test_admission_can_refuse_or_swap_before_any_call(gateway_server, fake_llm):
    from core.gateway.admission import Refuse, Swap

    async def budget(request):
        if request.headers.get("x-tradeoff-team") == "broke":
            return Refuse(429, "The team 'broke' has spent its daily budget", code="budget_exceeded",
                          retry_after_s=60)
        if request.headers.get("x-tradeoff-team") == "thrifty" and request.target.policy == "solo":
            return Swap(FLASH, "budget at 90%")
        return None

    gateway_server.deploy("solo", SingleModel(MINI))
    gateway_server.engine.admission.append(budget)
    try:
        client = gateway_server.client()
        with pytest.raises(openai.RateLimitError) as err:
            chat(client, "tradeoff/solo", "x", extra_headers={"X-Tradeoff-Team": "broke"})
        assert "daily budget" in err.value.body["message"]
        assert err.value.response.headers["retry-after"] == "60"
        assert fake_llm.calls == []
        _, headers = chat(client, "tradeoff/solo", "x answer: y", extra_headers={"X-Tradeoff-Team": "thrifty"})
        assert headers["x-tradeoff-models"] == FLASH
        assert headers["x-tradeoff-swapped-from"] == "tradeoff/solo"
    finally:
        gateway_server.engine.admission.remove(budget)


def test_mix_splits_by_the_prompts_hash_as_offline(gateway_server, fake_llm):
    from core.routing.policies import Mix
    from core.routing.policies.mix import mix_share

    policy = Mix(SingleModel(MINI), Cascade([FLASH, CLAUDE], [0.7]), alpha=0.5)
    gateway_server.deploy("mix", policy)
    client = gateway_server.client()
    live = [chat(client, "tradeoff/mix", q)[1]["x-tradeoff-models"].split(",")[0] for q in QUESTIONS]
    to_b = [mix_share(q) < 0.5 for q in QUESTIONS]
    assert 0 < sum(to_b) < len(QUESTIONS)  # both parts serve some of the 16 prompts
    assert live == [FLASH if b else MINI for b in to_b]
    assert list(policy.to_b(offline([MINI, FLASH, CLAUDE]))) == to_b  # the offline split
    again = [chat(client, "tradeoff/mix", q)[1]["x-tradeoff-models"].split(",")[0] for q in QUESTIONS]
    assert again == live  # the same prompt always takes the same part


def test_prompt_router_routes_as_offline(gateway_server, fake_llm):
    from core.routing.policies.prompt_router import PromptRouter
    from core.routing.signals.prompt_correctness import PromptCorrectness

    train = _keyword_training()
    router = PromptRouter([MINI, BIG], threshold=-50.0,  # z: -66, -37, -30, -65, -36
                          signal=PromptCorrectness(members=(("tfidf", "lr"),))).fit(train)
    gateway_server.deploy("prompt-router", router)
    client = gateway_server.client()
    test = offline([MINI, BIG], texts=LEARNED_REQUESTS)
    live = [chat(client, "tradeoff/prompt-router", t)[1]["x-tradeoff-models"] for t in LEARNED_REQUESTS]
    assert live == [test.models[k] for k in router.evaluate(test).kept] == [BIG, MINI, MINI, BIG, MINI]


def test_cascade_on_the_answer_scorer_calls_its_panel_and_decides_as_offline(gateway_server, fake_llm):
    from core.routing.signals.answer_scorer import AnswerScorer

    a, peer = "openai:scored-a-q50", "local:scored-peer-q50"
    models = [a, peer, CLAUDE]
    texts = [f"Item {i}: which code? answer: K{i}" for i in range(80)]
    said = np.array([[fake_says(m, t)[0] for m in models] for t in texts], dtype=object)
    gold = np.array([t.rsplit(": ", 1)[1] for t in texts], dtype=object)
    train = EvalSet.from_arrays("train", models, score=(said == gold[:, None]).astype(float),
                                items=pd.DataFrame({"item_id": [str(i) for i in range(80)], "input": texts}),
                                prediction=said, cost=np.tile([0.001, 0.001, 0.01], (80, 1)))
    scorer = AnswerScorer([a], panel=[peer], compare="text").fit(train)
    assert scorer.helps_[a]  # the peer's vote tells right from wrong (both are right half the time)
    policy = Cascade([a, CLAUDE], [0.5], scorer)
    gateway_server.deploy("scored", policy)
    client = gateway_server.client()
    escalated = [len(chat(client, "tradeoff/scored", q)[1]["x-tradeoff-models"].split(",")) == 3
                 for q in QUESTIONS]
    answers = [[fake_says(a, q)[0], fake_says(peer, q)[0], None] for q in QUESTIONS]
    assert escalated == list(policy.evaluate(offline(models, answers=answers)).escalated)
    assert 0 < sum(escalated) < len(QUESTIONS)
    assert fake_llm.count(model="scored-peer-q50") == len(QUESTIONS)


def test_hybrid_table_sends_a_task_to_its_model_or_cascades_at_the_tasks_threshold(gateway_server, fake_llm):
    from core.routing.policies import HybridRouter

    cheap = "openai:mini-q50"
    policy = HybridRouter({"legal": CLAUDE, "spam": {"models": [cheap, CLAUDE], "thresholds": [0.85]}},
                          default=MINI)
    gateway_server.deploy("hybrid", policy)
    client = gateway_server.client()
    tasks = ["spam"] * len(QUESTIONS) + ["legal", "legal", None, "other"]
    texts = QUESTIONS + QUESTIONS[:4]
    called, ids = [], []
    for task, q in zip(tasks, texts):
        kwargs = {"extra_headers": {"X-Tradeoff-Task": task}} if task else {}
        _, headers = chat(client, "tradeoff/hybrid", q, **kwargs)
        called.append(headers["x-tradeoff-models"])
        ids.append(headers["x-tradeoff-request-id"])
    # offline, on what the cheap model said it was sure of: the same decisions
    models = [cheap, CLAUDE, MINI]
    conf = [[fake_says(cheap, q)[1], 1.0, 1.0] for q in texts]
    out = policy.evaluate(offline(models, confidence=conf, texts=texts, task=tasks))
    expected = [",".join(m for m, t in zip(models, row) if t) for row in out.tried]
    assert [",".join(sorted(c.split(","))) for c in called] == [",".join(sorted(e.split(","))) for e in expected]
    spam_escalated = [c == f"{cheap},{CLAUDE}" for c in called[:16]]
    assert spam_escalated == list(out.escalated[:16])
    assert 0 < sum(spam_escalated) < 16  # the 0.85 threshold keeps some cheap answers, not all
    sure = [fake_says(cheap, q)[1] >= 0.85 for q in QUESTIONS]
    assert spam_escalated == [not s for s in sure]  # by hand: escalate where the cheap one says < 0.85
    assert called[16:] == [CLAUDE, CLAUDE, MINI, MINI]  # legal straight to the strong model; default
    assert_ledger_matches_fake(gateway_server, fake_llm, ids)

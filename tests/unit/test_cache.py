"""The response cache: exact keys, time-to-live per task, the lexical semantic match and its
measured error rate on a labeled set."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.evaluation.loading import load_csv
from core.live.cache import (
    CacheConfig,
    ResponseCache,
    cache_key,
    nearest_previous,
    semantic_cache_error_rates,
)
from core.live.providers.base import ChatRequest


def _req(user: str, **kw) -> ChatRequest:
    return ChatRequest(model="m", user=user, system="sys", **kw)


def test_cache_key_changes_with_every_parameter():
    base = cache_key("openai", _req("hi"))
    assert base == cache_key("openai", _req("hi"))
    variants = [cache_key("anthropic", _req("hi")), cache_key("openai", _req("hi!")),
                cache_key("openai", _req("hi", max_tokens=5)),
                cache_key("openai", _req("hi", temperature=0.7)),
                cache_key("openai", _req("hi", response_format="json")),
                cache_key("openai", ChatRequest(model="m2", user="hi", system="sys")),
                cache_key("openai", ChatRequest(model="m", user="hi", system="other"))]
    assert len(set(variants + [base])) == len(variants) + 1


def test_exact_hit_and_ttl_per_task(ws):
    cache = ResponseCache(ws, CacheConfig(ttl_s={"*": 3600.0, "news": 0.0}))
    cache.put("openai", _req("q1"), "faq", "q1", "answer-1", 10, 2)
    cache.put("openai", _req("q2"), "news", "q2", "answer-2", 10, 2)
    fresh = ResponseCache(ws, cache.config)  # a new process sees what was stored
    hit = fresh.get("openai", _req("q1"))
    assert (hit.text, hit.input_tokens, hit.output_tokens) == ("answer-1", 10, 2)
    assert fresh.get("openai", _req("q2")) is None  # news expires at once
    assert fresh.get("anthropic", _req("q1")) is None
    assert fresh.stats() == {"entries": 2, "live": 1}
    # Prefetch answers from memory: same hits, and a miss stays a miss.
    fresh.prefetch([cache_key("openai", _req("q1")), cache_key("openai", _req("zz"))])
    assert fresh.get("openai", _req("q1")).text == "answer-1"
    assert fresh.get("openai", _req("zz")) is None


def test_an_entry_read_at_the_instant_it_expires_is_not_served(ws):
    t0 = datetime(2026, 3, 10, 12, 0, 0)
    now = [t0]
    cache = ResponseCache(ws, CacheConfig(ttl_s={"*": 60.0}), clock=lambda: now[0])
    cache.put("openai", _req("q1"), "faq", "q1", "answer-1", 10, 2)  # expires at t0 + 60 s
    now[0] = t0 + timedelta(seconds=59, microseconds=999_999)  # one microsecond before
    assert cache.get("openai", _req("q1")).text == "answer-1"
    assert cache.stats() == {"entries": 1, "live": 1}
    # a run that prefetched it keeps it in memory: still served just before it expires
    run = ResponseCache(ws, cache.config, clock=lambda: now[0])
    assert run.prefetch([cache_key("openai", _req("q1"))]) == 1
    now[0] = t0 + timedelta(seconds=60)  # the instant it expires
    assert cache.get("openai", _req("q1")) is None  # stored by this object, and in its memory
    assert run.get("openai", _req("q1")) is None  # prefetched before it expired
    assert ResponseCache(ws, cache.config, clock=lambda: now[0]).get("openai", _req("q1")) is None
    assert cache.stats() == {"entries": 1, "live": 0}
    later = ResponseCache(ws, cache.config, clock=lambda: now[0])
    assert later.prefetch([cache_key("openai", _req("q1"))]) == 0
    assert later.get("openai", _req("q1")) is None


def test_disabled_cache_never_hits(ws):
    cache = ResponseCache(ws, CacheConfig(enabled=False))
    cache.put("openai", _req("q1"), None, "q1", "a", 1, 1)
    assert cache.get("openai", _req("q1")) is None


def test_semantic_match_by_embedding_with_threshold(ws):
    cache = ResponseCache(ws, CacheConfig(semantic_threshold=0.8))
    cache.put("openai", _req("How do I reset my password?"), "faq",
              "How do I reset my password?", "account", 5, 1)
    near = cache.get_similar("openai", "m", "faq", "how do I reset my password")
    assert near is not None and near.text == "account" and 0.8 <= near.similarity <= 1.0 + 1e-9
    assert cache.get_similar("openai", "m", "faq", "Where is my parcel?") is None
    assert cache.get_similar("openai", "m", "other-task", "How do I reset my password?") is None
    # Reloaded from the workspace by a later run.
    again = ResponseCache(ws, CacheConfig(semantic_threshold=0.8))
    again.load_semantic()
    assert again.get_similar("openai", "m", "faq", "How do I reset my password?").text == "account"
    assert ResponseCache(ws, CacheConfig()).get_similar("openai", "m", "faq", "x") is None


def _labeled(rows: list[tuple[str, str, str]]):
    frame = pd.DataFrame(rows, columns=["input", "label", "task"])
    return load_csv(frame.to_csv(index=False).encode(), name="sem.csv")


def test_error_rates_hand_computed():
    es = _labeled([
        ("alpha beta gamma", "L1", "t"),
        ("alpha beta gamma", "L1", "t"),      # exact repeat, same label: a correct hit
        ("qqqq xxxx zzzz", "L2", "t"),        # shares no character n-gram with the above
        ("qqqq xxxx zzzz", "L3", "t"),        # repeat with another label: a wrong hit
        ("mmmm nnnn", "L4", "t"),             # nothing similar: no hit
        ("alpha beta gamma", "L9", "u"),      # same text, other task: never a hit
    ])
    table = semantic_cache_error_rates(es, [0.5, 0.99, 1.5])
    assert table["hits"].tolist() == [2, 2, 0]
    assert table["wrong"].tolist() == [1, 1, 0]
    assert table["hit_rate"].tolist() == pytest.approx([2 / 6, 2 / 6, 0.0])
    assert table["wrong_rate"].iloc[0] == pytest.approx(0.5)
    assert math.isnan(table["wrong_rate"].iloc[2])
    assert table["wrong_per_item"].iloc[0] == pytest.approx(1 / 6)


def test_nearest_previous_only_looks_back():
    nearest, sim = nearest_previous(["aaa bbb", "ccc ddd", "aaa bbb", "ccc ddd"])
    assert nearest.tolist() == [-1, 0, 0, 1]
    assert sim[2] == pytest.approx(1.0, abs=1e-6) and sim[3] == pytest.approx(1.0, abs=1e-6)


FAQ = [  # (input, label); wordllama cosine with the nearest earlier input in brackets
    ("How do I reset my password?", "account"),
    ("I forgot my password, how do I reset it?", "account"),  # paraphrase of 1 (0.88)
    ("What is the capital of France?", "Paris"),
    ("What's France's capital city?", "Paris"),                 # paraphrase of 3 (0.91)
    ("What is the capital of Spain?", "Madrid"),                # another question (0.45 to 3)
    ("Where is my parcel?", "shipping"),                        # (0.27)
    ("How do I cancel my subscription?", "cancel"),             # (0.28)
    ("How do I upgrade my subscription?", "upgrade"),           # another question (0.62 to 7)
]


def test_paraphrases_hit_and_different_questions_do_not():
    """At 0.85 both paraphrases hit and are right; lowering the threshold to 0.6 lets 'upgrade'
    reuse 'cancel' (false), to 0.4 also 'Spain' reuse 'France' (false). Character n-gram TF-IDF
    (the old rule) scored the paraphrases 0.63 and 0.47 but Spain/France 0.61: no threshold
    separated them."""
    table = semantic_cache_error_rates(_labeled([(q, a, "faq") for q, a in FAQ]), [0.85, 0.6, 0.4])
    assert table["hits"].tolist() == [2, 3, 4]
    assert table["wrong"].tolist() == [0, 1, 2]
    assert table["wrong_rate"].tolist() == pytest.approx([0.0, 1 / 3, 0.5])
    assert (table["truth"] == "label").all()


def test_false_hits_by_the_right_answers_or_by_question():
    """No label column: the right answer is what a model scored right concluded (item 2's model
    was wrong: unknown, left out); or, with truth='question', any hit on another question."""
    rows = [("What is the capital of France?", "Paris", 1), ("What's France's capital city?", "Paris", 1),
            ("What is the capital of Spain?", "Lyon", 0), ("Capital of France?", "Paris", 1)]
    csv = "item_id,model,input,prediction,score\n" + "".join(
        f"{i},m,\"{q}\",{p},{s}\n" for i, (q, p, s) in enumerate(rows))
    es = load_csv(csv.encode(), name="answers.csv")
    by_answers = semantic_cache_error_rates(es, [0.8])
    assert by_answers["truth"].iloc[0] == "answers"
    assert (by_answers["hits"].iloc[0], by_answers["wrong"].iloc[0]) == (2, 0)  # items 1 and 3 reuse 0
    by_question = semantic_cache_error_rates(es, [0.8], truth="question")
    assert (by_question["hits"].iloc[0], by_question["wrong"].iloc[0]) == (2, 2)


def test_error_rates_properties_on_random_sets():
    rng = np.random.default_rng(3)
    words = ["refund", "order", "password", "reset", "parcel", "late", "invoice", "login"]
    rows = [(" ".join(rng.choice(words, 3)), str(rng.integers(0, 3)), "t") for _ in range(120)]
    table = semantic_cache_error_rates(_labeled(rows), np.linspace(0.1, 1.0, 10))
    # A higher threshold can only remove hits (the cache answers a subset of items).
    assert (np.diff(table["hits"].to_numpy()) <= 0).all()
    assert (np.diff(table["wrong"].to_numpy()) <= 0).all()
    assert ((table["wrong"] <= table["hits"]) & (table["hit_rate"] <= 1)).all()


def test_error_rates_need_labels():
    es = load_csv(b"input\nhello\nworld\n", name="nolabels.csv")
    with pytest.raises(InputError, match="labels"):
        semantic_cache_error_rates(es, [0.9])


TEMPLATE = ("You are a support assistant. Read the customer's question and answer with the name of "
            "the team that handles it, one word, nothing else.\nQuestion: Can I pay by invoice?\n"
            "Answer: billing\nQuestion: My order arrived broken.\nAnswer: returns\nQuestion: ")


def test_a_shared_template_does_not_make_every_question_alike(ws):
    """Mean-pooled embeddings of 'long template + short question' are all close (the template
    dominates); the index compares what follows the template, so only the paraphrase hits."""
    from core.evaluation.embeddings import cosine, embed

    whole = embed([TEMPLATE + "Where is my parcel?", TEMPLATE + "How do I reset my password?"])
    assert cosine(whole[:1], whole[1:])[0, 0] > 0.85  # without the cut this would be a hit
    cache = ResponseCache(ws, CacheConfig(semantic_threshold=0.85))
    cache.put("openai", _req(TEMPLATE + "Where is my parcel?"), "faq", TEMPLATE + "Where is my parcel?",
              "shipping", 5, 1)
    assert cache.get_similar("openai", "m", "faq", TEMPLATE + "How do I reset my password?") is None
    cache.put("openai", _req(TEMPLATE + "How do I reset my password?"), "faq",
              TEMPLATE + "How do I reset my password?", "account", 5, 1)
    hit = cache.get_similar("openai", "m", "faq", TEMPLATE + "I forgot my password, how do I reset it?")
    assert hit is not None and hit.text == "account" and hit.similarity == pytest.approx(0.882, abs=0.01)
    assert cache.get_similar("openai", "m", "faq", TEMPLATE + "Where is my parcel?").similarity == \
        pytest.approx(1.0, abs=1e-5)
    # the measurement cuts the same template
    rates = semantic_cache_error_rates(_labeled([(TEMPLATE + q, a, "faq") for q, a in FAQ]), [0.85])
    assert (rates["hits"].iloc[0], rates["wrong"].iloc[0]) == (2, 0)

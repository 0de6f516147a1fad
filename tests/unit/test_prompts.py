"""Prompt templates per provider family, and parsing replies without guessing."""
from __future__ import annotations

import asyncio
import json

import pytest

from core.errors import InputError
from core.live.prompts import (
    ParsedAnswer,
    answer_schema,
    build_request,
    normalize_label,
    parse_answer,
    parse_confidence,
    task_kind,
)
from core.live.providers import get_provider

ABCD = ["A", "B", "C", "D"]


def test_claude_gets_xml_tags_and_no_schema():
    req = build_request("anthropic", "claude-haiku-4-5", "arc", "Q?", labels=ABCD)
    assert "<label>LABEL</label>" in req.system and "<confidence>" in req.system
    assert "Labels: A | B | C | D" in req.system
    assert req.schema is None and req.response_format == "text" and req.user == "Q?"


@pytest.mark.parametrize("provider", ["openai", "local", "gemini"])
def test_json_families_get_a_schema_with_the_label_enum(provider):
    req = build_request(provider, "m", "support", "my card was charged twice", labels=["billing", "bug"])
    assert req.response_format == "json"
    assert req.schema["properties"]["label"]["enum"] == ["billing", "bug"]
    assert req.schema["required"] == ["label", "confidence"]
    assert req.logprobs is (provider == "openai")
    # Gemini's response_schema is an OpenAPI subset without additionalProperties.
    assert ("additionalProperties" in req.schema) is (provider != "gemini")


def test_system_prompt_is_the_same_for_every_item_of_a_task():
    a = build_request("openai", "m", "arc", "first question", labels=ABCD)
    b = build_request("openai", "m", "arc", "second question", labels=ABCD)
    assert a.system == b.system and a.user != b.user


def test_open_task_without_labels_has_no_enum():
    req = build_request("gemini", "m", None, "capital of France?")
    assert "enum" not in req.schema["properties"]["label"]
    assert "Labels:" not in req.system
    assert answer_schema()["properties"]["label"] == {"type": "string"}


def test_unknown_provider_is_an_input_error():
    with pytest.raises(InputError, match="anthropic, openai, local, gemini"):
        build_request("cohere", "m", None, "x")


def test_task_kind():
    assert task_kind(ABCD) == "multiple_choice"
    assert task_kind(["Yes", "No"]) == "binary"
    assert task_kind(["billing", "bug", "other"]) == "classification"
    assert task_kind(None) == "open"


@pytest.mark.parametrize("text,label,confidence", [
    ("<label>B</label><confidence>0.8</confidence>", "B", 0.8),
    ("<LABEL> c </LABEL>\n<confidence>85</confidence>", "C", 0.85),
    ('{"label": "D", "confidence": 0.3}', "D", 0.3),
    ('```json\n{"label": "a", "confidence": "70%"}\n```', "A", 0.7),
    ('Sure, here you go: {"answer": "B", "confidence": "high"} Let me know!', "B", 0.85),
    ("Label: C\nConfidence: 0.55", "C", 0.55),
    ("**Answer:** D\n**Confidence:** 90%", "D", 0.9),
    ("The answer is B.", "B", None),
    ("B) wet palms", "B", None),
    ("(A)", "A", None),
    ("b", "B", None),
    ('{"label": "A", "confidence": 1.7}', "A", None),  # a confidence that is no probability: dropped
    ('{"label": "A", "confidence": null}', "A", None),
])
def test_parse_recognizes_common_reply_shapes(text, label, confidence):
    parsed = parse_answer("openai", text, labels=ABCD)
    assert parsed.parse_ok, parsed.error
    assert parsed.label == label
    assert parsed.confidence == (pytest.approx(confidence) if confidence is not None else None)


@pytest.mark.parametrize("text,reason", [
    ("", "empty"),
    (None, "empty"),
    ("E", "not one of the allowed labels"),
    ("I think it is probably the bat, but the cod is also plausible.", "not one of the allowed labels"),
    ("Let me think.\nThe wet palms produce friction...", "no label found"),
    ('{"label": "wet palms", "confidence": 0.9}', "not one of the allowed labels"),
    ("<label></label><confidence>0.9</confidence>", "empty label"),
])
def test_unparseable_replies_are_recorded_as_such_not_guessed(text, reason):
    parsed = parse_answer("anthropic", text, labels=ABCD)
    assert not parsed.parse_ok and parsed.label is None
    assert reason in parsed.error


def test_label_keeps_the_label_sets_spelling():
    parsed = parse_answer("gemini", '{"label": "billing", "confidence": 0.9}', labels=["Billing", "Bug"])
    assert parsed == ParsedAnswer("Billing", 0.9, True, None)


def test_without_a_label_set_the_short_answer_is_the_label():
    assert parse_answer("local", '{"label": "Paris", "confidence": 0.99}').label == "Paris"
    assert parse_answer("local", "Paris").label == "Paris"
    assert not parse_answer("local", "Well,\nit could be Paris or Lyon").parse_ok


def test_parse_confidence_and_normalize_label():
    assert parse_confidence("80%") == 0.8
    assert parse_confidence("0.25") == 0.25
    assert parse_confidence(75) == 0.75
    assert parse_confidence("very low") == 0.1
    assert parse_confidence(-0.2) is None and parse_confidence("150%") is None
    assert parse_confidence(True) is None and parse_confidence("unknown") is None
    assert normalize_label(' "(B)." ') == "b"
    assert normalize_label("**Billing**") == "billing"


@pytest.mark.parametrize("provider", ["anthropic", "openai", "gemini", "local"])
def test_round_trip_through_each_sdk(fake_llm, provider):
    """build_request -> the real SDK -> the wire-format server -> parse_answer gets the gold label."""
    labels = ["billing", "bug", "other"]
    request = build_request(provider, "m", "support", "charged twice answer: billing", labels=labels)
    client = get_provider(provider, api_key={"anthropic": "sk-ant-k-123456", "openai": "sk-k-123456",
                                             "gemini": "AIzaK123456789", "local": None}[provider],
                          base_url=fake_llm.base_urls[provider])

    async def go():
        try:
            return await client.complete(request)
        finally:
            await client.aclose()

    response = asyncio.run(go())
    parsed = parse_answer(provider, response.text, labels=labels)
    assert parsed.parse_ok and parsed.label == "billing"
    assert 0.75 <= parsed.confidence <= 0.95
    (record,) = fake_llm.calls
    assert record["want_json"] is (provider != "anthropic")  # JSON mode / schema reached the wire
    assert record["logprobs"] is (provider == "openai")
    if provider == "anthropic":
        assert response.text.startswith("<label>")
    else:
        assert json.loads(response.text)["label"] == "billing"
    if provider == "openai":
        assert response.logprob_confidence == pytest.approx(parsed.confidence)

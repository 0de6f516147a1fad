"""Prompts that ask a model for a label and a confidence, and a parser for what comes back.

Each provider family gets the answer format it follows best:

- Claude (``anthropic``): XML tags, ``<label>B</label><confidence>0.8</confidence>``;
- GPT and local OpenAI-compatible servers: structured outputs (``response_format`` with a JSON
  schema: ``{"label": ..., "confidence": ...}``, the label an enum when the label set is known);
- Gemini: ``response_mime_type="application/json"`` with the same schema as ``response_schema``.

>>> req = build_request("anthropic", "claude-haiku-4-5", "arc", "Which is a mammal? A) cod B) bat",
...                     labels=["A", "B"])
>>> "<label>" in req.system and req.user.startswith("Which")
True
>>> parse_answer("anthropic", "<label>B</label><confidence>0.8</confidence>", labels=["A", "B"])
ParsedAnswer(label='B', confidence=0.8, parse_ok=True, error=None)
>>> parse_answer("openai", "I think it's a bat.", labels=["A", "B"]).parse_ok
False

The system prompt depends only on the task and its labels, the user message is the item's
input: across an eval set the system prompt repeats, which is what prompt caches reuse.

Parsing never guesses a label: an answer without a recognizable label, or with a label outside
the known label set, is ``parse_ok=False`` with the reason in ``error``. Confidence is read as a
probability (``0.8``), a percentage (``80%``, or ``80`` meaning percent) or one of the words in
:data:`VERBAL_CONFIDENCE`; when absent or unreadable it is None and the label still counts.
Where the provider returns log-probabilities (OpenAI), ``ChatResponse.logprob_confidence`` holds
the probability of the label's first token (:mod:`core.live.providers.logprobs`) and may be used as the
confidence signal instead.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import InputError
from core.evaluation.answers import normalize_answer
from core.live.providers.base import ChatRequest

FAMILIES = {"anthropic": "xml", "openai": "json_schema", "local": "json_schema", "gemini": "json_schema"}
TASK_KINDS = ("multiple_choice", "binary", "classification", "open")
# Fixed readings of verbal confidence; documented so a "high" is the same number everywhere.
VERBAL_CONFIDENCE = {"very high": 0.95, "high": 0.85, "medium": 0.6, "moderate": 0.6,
                     "low": 0.3, "very low": 0.1, "certain": 0.99, "unsure": 0.4}

_INSTRUCTIONS = {
    "multiple_choice": "Read the question and choose the single best option.",
    "binary": "Read the input and answer the question it asks with one of the allowed labels.",
    "classification": "Read the input and assign it exactly one of the allowed labels.",
    "open": "Read the input and give the shortest exact answer (a word, a number or a short phrase).",
}


@dataclass(frozen=True)
class ParsedAnswer:
    label: str | None
    confidence: float | None
    parse_ok: bool
    error: str | None = None


def task_kind(labels: Sequence[str] | None) -> str:
    """What kind of question a label set implies.

    >>> task_kind(["A", "B", "C", "D"]), task_kind(["yes", "no"]), task_kind(["billing", "bug"])
    ('multiple_choice', 'binary', 'classification')
    """
    if not labels:
        return "open"
    normalized = {normalize_label(label) for label in labels}
    if all(len(label) == 1 and label.isalpha() for label in normalized):
        return "multiple_choice"
    if normalized <= {"yes", "no", "true", "false"}:
        return "binary"
    return "classification"


def answer_schema(labels: Sequence[str] | None = None, closed: bool = True) -> dict[str, Any]:
    """The JSON schema of an answer (strict-mode compatible: every property required).

    ``closed=False`` leaves out ``additionalProperties``, which Gemini's ``response_schema`` (an
    OpenAPI subset) does not accept.
    """
    label: dict[str, Any] = {"type": "string"}
    if labels:
        label["enum"] = [str(value) for value in labels]
    return {"type": "object",
            "properties": {"label": label,
                           "confidence": {"type": "number",
                                          "description": "probability from 0 to 1 that the label is correct"}},
            "required": ["label", "confidence"]} | ({"additionalProperties": False} if closed else {})


def system_prompt(provider: str, task: str | None, labels: Sequence[str] | None = None,
                  instructions: str | None = None) -> str:
    """The task's instructions, its label set and the answer format of the provider's family."""
    family = _family(provider)
    kind = task_kind(labels)
    lines = [instructions.strip() if instructions else _INSTRUCTIONS[kind]]
    if task:
        lines.append(f"Task: {task}")
    if labels:
        lines.append("Labels: " + " | ".join(str(value) for value in labels))
        lines.append("The label must be exactly one of these, written as shown.")
    lines.append("Also estimate your confidence: the probability, from 0 to 1, that your label is correct.")
    if family == "xml":
        lines.append("Reply with exactly these two tags and nothing else:\n"
                     "<label>LABEL</label>\n<confidence>0.0-1.0</confidence>")
    else:
        lines.append('Reply with a JSON object only: {"label": "LABEL", "confidence": 0.0-1.0}')
    return "\n".join(lines)


def build_request(provider: str, model: str, task: str | None, input: str,
                  labels: Sequence[str] | None = None, *, max_tokens: int = 256,
                  temperature: float = 0.0, logprobs: bool | None = None,
                  instructions: str | None = None) -> ChatRequest:
    """A ChatRequest asking ``model`` for a label (from ``labels`` when known) and a confidence.

    ``logprobs`` defaults to on for OpenAI (a free second confidence signal), off elsewhere
    (not every OpenAI-compatible server supports it).
    """
    family = _family(provider)
    labels = [str(value) for value in labels] if labels else None
    system = system_prompt(provider, task, labels, instructions)
    if logprobs is None:
        logprobs = provider == "openai"
    if family == "xml":
        return ChatRequest(model=model, user=str(input), system=system, max_tokens=max_tokens,
                           temperature=temperature, response_format="text", logprobs=False)
    return ChatRequest(model=model, user=str(input), system=system, max_tokens=max_tokens,
                       temperature=temperature, response_format="json",
                       schema=answer_schema(labels, closed=provider != "gemini"),
                       logprobs=bool(logprobs and provider != "gemini"))


def _family(provider: str) -> str:
    if provider not in FAMILIES:
        raise InputError(f"Unknown provider '{provider}': expected one of {', '.join(FAMILIES)}")
    return FAMILIES[provider]


# ---- parsing ------------------------------------------------------------------------------
_FENCE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_XML_LABEL = re.compile(r"<\s*(label|answer)\s*>\s*(.*?)\s*<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)
_XML_CONF = re.compile(r"<\s*confidence\s*>\s*(.*?)\s*<\s*/\s*confidence\s*>", re.IGNORECASE | re.DOTALL)
_LINE_LABEL = re.compile(r"(?im)^\s*[\*_]*(?:final\s+)?(?:label|answer|prediction)[\*_]*\s*[:=]\s*[\*_]*(.+?)[\*_]*\s*$")
_LINE_CONF = re.compile(r"(?im)^\s*[\*_]*confidence[\*_]*\s*[:=]\s*[\*_]*(.+?)[\*_]*\s*$")
_ANSWER_IS = re.compile(r"(?i)\b(?:the\s+)?(?:correct\s+)?answer\s+is\s*:?\s*([^\s,;]+(?:\s[^\s,;.]+)?)")
_LABEL_KEYS = ("label", "answer", "prediction", "choice", "class", "category")
_CONF_KEYS = ("confidence", "probability", "certainty", "score")


def normalize_label(text: Any) -> str:
    """The one normalisation rule (case-folded), outer quotes, brackets, markdown and trailing
    punctuation removed.

    >>> normalize_label(' "(B)." '), normalize_label("**Billing**")
    ('b', 'billing')
    """
    value = normalize_answer(text) or ""
    previous = None
    while value != previous:
        previous = value
        value = re.sub(r'^[\s"\'`\*\(\[\{]+|[\s"\'`\*\)\]\}\.,;:!]+$', "", value)
    return value


def parse_confidence(value: Any) -> float | None:
    """A probability from 0.8, "0.8", "80%", 80 (percent, from 10 up), or a word; else None.

    >>> parse_confidence("80%"), parse_confidence(0.35), parse_confidence("high"), parse_confidence("n/a")
    (0.8, 0.35, 0.85, None)
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip().lower().rstrip(".")
        if text in VERBAL_CONFIDENCE:
            return VERBAL_CONFIDENCE[text]
        match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*(%|percent)?", text)
        if not match:
            match = re.match(r"([0-9]*\.?[0-9]+)\s*(%|percent|/\s*100)?", text)
            if not match:
                return None
        number = float(match.group(1))
        if match.group(2):
            number /= 100.0
            return number if 0.0 <= number <= 1.0 else None
    if 0.0 <= number <= 1.0:
        return number
    if 10.0 <= number <= 100.0:  # a percentage written without the sign; 1.7 or 5 mean nothing sure
        return number / 100.0
    return None


def _json_objects(text: str):
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            yield value


def _from_json(text: str) -> tuple[Any, Any] | None:
    for obj in _json_objects(text):
        lowered = {str(k).lower(): v for k, v in obj.items()}
        label = next((lowered[k] for k in _LABEL_KEYS if k in lowered), None)
        if label is None or isinstance(label, (dict, list)):
            continue
        confidence = next((lowered[k] for k in _CONF_KEYS if k in lowered), None)
        return label, confidence
    return None


def _match_label(raw: Any, labels: Sequence[str] | None) -> tuple[str | None, str | None]:
    """The label as written in the label set (or cleaned, if none is known), or an error."""
    candidate = normalize_label(raw)
    if not candidate:
        return None, "empty label"
    if not labels:
        return str(raw).strip().strip("\"'`*").strip(), None
    by_norm = {normalize_label(value): str(value) for value in labels}
    if candidate in by_norm:
        return by_norm[candidate], None
    if task_kind(labels) == "multiple_choice":
        # "B) bat", "(B) bat", "B. bat", "option B": the option letter, when unambiguous.
        match = re.fullmatch(r"(?:option\s+)?\(?([a-z])\)?(?:[\s\).:-].*)?", candidate)
        if match and match.group(1) in by_norm:
            return by_norm[match.group(1)], None
    return None, f"label '{str(raw).strip()[:40]}' is not one of the allowed labels"


def parse_answer(provider: str, text: str | None, labels: Sequence[str] | None = None) -> ParsedAnswer:
    """Read a label and a confidence from a model's reply, in any of the formats models use.

    Tries, in order: JSON (also inside code fences or prose), XML tags, ``Label:`` lines,
    "the answer is X", then the whole reply as a bare label. ``provider`` is accepted for
    symmetry with :func:`build_request`; every format is tried for every provider because models
    do not always follow the format they were asked for.
    """
    if text is None or not str(text).strip():
        return ParsedAnswer(None, None, False, "empty reply")
    body = str(text).strip()
    fenced = _FENCE.findall(body)
    candidates = [block.strip() for block in fenced] + [body]
    raw_label: Any = None
    raw_conf: Any = None
    for chunk in candidates:
        found = _from_json(chunk)
        if found is not None:
            raw_label, raw_conf = found
            break
    if raw_label is None:
        match = _XML_LABEL.search(body)
        if match:
            raw_label = match.group(2)
            conf = _XML_CONF.search(body)
            raw_conf = conf.group(1) if conf else None
    if raw_label is None:
        match = _LINE_LABEL.search(body)
        if match:
            raw_label = match.group(1)
    if raw_label is None:
        match = _ANSWER_IS.search(body)
        if match and labels:
            first_word = match.group(1).split()[0]
            for option in (match.group(1), first_word):
                label, error = _match_label(option, labels)
                if label is not None:
                    raw_label = option
                    break
    if raw_conf is None:
        match = _LINE_CONF.search(body)
        if match:
            raw_conf = match.group(1)
    if raw_label is None:
        plain = fenced[0].strip() if fenced else body
        if "\n" in plain or len(plain) > 80:
            return ParsedAnswer(None, parse_confidence(raw_conf), False,
                                "no label found in the reply (expected "
                                + ("<label> tags" if FAMILIES.get(provider) == "xml" else "a JSON object")
                                + ")")
        raw_label = plain
    label, error = _match_label(raw_label, labels)
    confidence = parse_confidence(raw_conf)
    if label is None:
        return ParsedAnswer(None, confidence, False, error)
    return ParsedAnswer(label, confidence, True, None)

"""A chat-completions request, checked: what the client asked for and who it is for.

:func:`parse_chat_request` reads the JSON body and the headers. Every problem is a 400 naming the
field (``messages[1].content``, ``max_tokens``...); nothing is guessed. Routing inputs come from
headers or the body's ``metadata``: the task (``X-Tradeoff-Task`` or ``metadata.task``), the
item's value for value tiers (``X-Tradeoff-Value`` or ``metadata.<value column>``), and the
spend tags (``X-Tradeoff-Team``, ``-User``, ``-Feature``, ``-Environment``; or the same names in
``metadata``).

>>> req = parse_chat_request({"model": "openai:gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
...                          {"x-tradeoff-team": "support"})
>>> req.model, req.user_text, req.tags
('openai:gpt-4o-mini', 'hi', {'team': 'support'})
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.gateway.errors import GatewayError

ROLES = ("system", "developer", "user", "assistant")
TAG_NAMES = ("team", "user", "feature", "environment")
# OpenAI fields passed through unchanged to OpenAI-compatible providers.
PASS_THROUGH = ("seed", "presence_penalty", "frequency_penalty", "logit_bias", "user",
                "reasoning_effort", "service_tier", "top_logprobs")
UNSUPPORTED = {"tools": "tool calling", "functions": "function calling", "tool_choice": "tool calling",
               "function_call": "function calling", "audio": "audio output"}
_TAG_TEXT = re.compile(r"[^A-Za-z0-9_.@/-]+")


@dataclass
class ChatInput:
    """The request as the engine sees it."""

    model: str
    messages: list[dict[str, str]]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    response_format: dict[str, Any] | None = None
    logprobs: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    value: float | None = None
    value_header: bool = False
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def user_text(self) -> str:
        """The last user message: what the learned signal reads, like an eval set's input."""
        for m in reversed(self.messages):
            if m["role"] == "user":
                return m["content"]
        return ""

    def value_for(self, column: str) -> float | None:
        """The item's value for value tiers: the header, else ``metadata[column]``."""
        if self.value is not None:
            return self.value
        raw = self.metadata.get(column)
        try:
            value = float(raw) if raw is not None and not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            raise GatewayError.bad_field(f"metadata.{column}", f"must be a number; got {raw!r}") from None
        return value if value is not None and math.isfinite(value) else None


def _content(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for i, part in enumerate(value):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise GatewayError.bad_field(f"{where}[{i}]", "must be a text part "
                                             '({"type": "text", "text": "..."}); only text is supported')
            parts.append(part["text"])
        return "".join(parts)
    raise GatewayError.bad_field(where, "must be a string or a list of text parts")


def _messages(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise GatewayError.bad_field("messages", "must be a non-empty list of {role, content} objects")
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise GatewayError.bad_field(f"messages[{i}]", "must be an object with 'role' and 'content'")
        role = m.get("role")
        if role not in ROLES:
            raise GatewayError.bad_field(f"messages[{i}].role", f"must be one of {', '.join(ROLES)}; "
                                         f"got {role!r}")
        if "content" not in m or m["content"] is None:
            raise GatewayError.bad_field(f"messages[{i}].content", "is required")
        out.append({"role": role, "content": _content(m["content"], f"messages[{i}].content")})
    if not any(m["role"] == "user" for m in out):
        raise GatewayError.bad_field("messages", "must contain at least one user message")
    return out


def _number(body: Mapping, name: str, lo: float, hi: float, integer: bool = False):
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise GatewayError.bad_field(name, f"must be {'an integer' if integer else 'a number'}; got {value!r}")
    if not lo <= value <= hi:
        raise GatewayError.bad_field(name, f"must be between {lo:g} and {hi:g}; got {value!r}")
    return value


def _tag(value: Any) -> str | None:
    text = _TAG_TEXT.sub("-", str(value).strip())[:80].strip("-")
    return text or None


def parse_chat_request(body: Any, headers: Mapping[str, str]) -> ChatInput:
    """The checked request; :class:`GatewayError` (400) naming the first bad field."""
    if not isinstance(body, dict):
        raise GatewayError(400, "Invalid request: the body must be a JSON object", param=None,
                           code="invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise GatewayError.bad_field("model", "is required: a deployed policy (tradeoff/NAME) or a "
                                     "provider model (PROVIDER:MODEL, e.g. openai:gpt-4o-mini)")
    for name, what in UNSUPPORTED.items():
        if body.get(name):
            raise GatewayError.bad_field(name, f"is not supported: the gateway does not do {what}")
    n = body.get("n")
    if n not in (None, 1):
        raise GatewayError.bad_field("n", f"must be 1 (one answer per request); got {n!r}")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise GatewayError.bad_field("stream", f"must be true or false; got {stream!r}")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise GatewayError.bad_field("stream_options", "must be an object")
    max_tokens = _number(body, "max_completion_tokens", 1, 10_000_000, integer=True)
    if max_tokens is None:
        max_tokens = _number(body, "max_tokens", 1, 10_000_000, integer=True)
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and (not isinstance(stop, list) or not all(isinstance(s, str) for s in stop)):
        raise GatewayError.bad_field("stop", "must be a string or a list of strings")
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema")):
        raise GatewayError.bad_field("response_format", "must be {\"type\": \"text\" | \"json_object\" | "
                                     "\"json_schema\", ...}")
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise GatewayError.bad_field("metadata", "must be an object of string keys and values")
    logprobs = body.get("logprobs", False)
    if not isinstance(logprobs, bool):
        raise GatewayError.bad_field("logprobs", f"must be true or false; got {logprobs!r}")
    lower = {k.lower(): v for k, v in headers.items()}
    task = lower.get("x-tradeoff-task") or metadata.get("task")
    value = None
    if lower.get("x-tradeoff-value") is not None:
        try:
            value = float(lower["x-tradeoff-value"])
        except ValueError:
            raise GatewayError(400, "Invalid request: the X-Tradeoff-Value header must be a number; "
                               f"got {lower['x-tradeoff-value']!r}", param="X-Tradeoff-Value",
                               code="invalid_value") from None
    tags = {}
    for name in TAG_NAMES:
        raw = lower.get(f"x-tradeoff-{name}") or metadata.get(name)
        if raw is not None and _tag(raw):
            tags[name] = _tag(raw)
    return ChatInput(
        model=model.strip(), messages=_messages(body.get("messages")), stream=stream,
        include_usage=bool(options.get("include_usage")), max_tokens=max_tokens,
        temperature=_number(body, "temperature", 0, 2), top_p=_number(body, "top_p", 0, 1),
        stop=stop, response_format=fmt if fmt and fmt.get("type") != "text" else None,
        logprobs=logprobs, metadata=metadata,
        extra={k: body[k] for k in PASS_THROUGH if body.get(k) is not None},
        task=str(task).strip() if task not in (None, "") else None, value=value,
        value_header=value is not None, tags=tags)

"""The providers' wire formats on the gateway's thin HTTP path: one request in, one body out.

The gateway speaks OpenAI Chat Completions to its clients and to OpenAI-compatible providers
(``openai``, ``local``), and translates to Anthropic Messages and Gemini generateContent, so no
provider SDK sits on the request path. Each format is three functions: the URL and headers,
the request body, and the reading of a success body into an :class:`UpstreamResult`.

>>> req = UpstreamRequest("anthropic", "claude-haiku-4-5", [{"role": "system", "content": "Be brief."},
...                       {"role": "user", "content": "2+2?"}], max_tokens=50)
>>> body = request_body(req)
>>> body["system"], body["messages"], body["max_tokens"]
('Be brief.', [{'role': 'user', 'content': '2+2?'}], 50)
>>> read_body("anthropic", {"content": [{"type": "text", "text": "4"}], "stop_reason": "end_turn",
...   "usage": {"input_tokens": 9, "output_tokens": 1, "cache_read_input_tokens": 3}}).input_tokens
12
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from core.live.providers.families import (
    REASONING_TOKEN_FLOOR,
    THINKING_TOKEN_FLOOR,
    is_reasoning,
    is_thinking,
)

DEFAULT_MAX_TOKENS = 1024  # Anthropic requires max_tokens; what a request without one gets
ANTHROPIC_VERSION = "2023-06-01"
# Where each provider is when no *_BASE_URL is set (the SDKs' own defaults).
DEFAULT_BASE_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com",
                     "gemini": "https://generativelanguage.googleapis.com"}
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
           "STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
           "RECITATION": "content_filter"}


@dataclass(frozen=True)
class UpstreamRequest:
    """One call to one provider model. ``messages`` are OpenAI-style ``{role, content}`` with
    text content; ``schema`` asks for structured output (a JSON schema), ``logprobs`` for token
    log-probabilities (OpenAI-compatible providers only); ``extra`` carries OpenAI fields passed
    through unchanged to OpenAI-compatible providers (seed, penalties, ...)."""

    provider: str
    model: str
    messages: list[dict[str, str]]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    schema: dict[str, Any] | None = None
    logprobs: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UpstreamResult:
    """What one successful call returned: the text, the tokens billed and who answered."""

    text: str
    input_tokens: int = 0  # every input token, cached ones included
    output_tokens: int = 0
    cached_read_tokens: int = 0
    cached_write_tokens: int = 0
    finish_reason: str = "stop"
    request_id: str | None = None
    raw_model: str | None = None
    logprob_tokens: list[tuple[str, float]] | None = None


def endpoint(provider: str, model: str, base_url: str | None, api_key: str | None
             ) -> tuple[str, dict[str, str]]:
    """The URL and headers of a call (the key goes in a header, never in the URL)."""
    base = (base_url or DEFAULT_BASE_URLS.get(provider) or "").rstrip("/")
    headers = {"content-type": "application/json"}
    if provider == "anthropic":
        headers.update({"x-api-key": api_key or "", "anthropic-version": ANTHROPIC_VERSION})
        return base + "/v1/messages", headers
    if provider == "gemini":
        headers["x-goog-api-key"] = api_key or ""
        return f"{base}/v1beta/models/{model}:generateContent", headers
    if api_key:
        headers["authorization"] = "Bearer " + api_key
    return base + "/chat/completions", headers


def split_system(messages: list[dict[str, str]]) -> tuple[str, list[dict[str, str]]]:
    """System (and developer) text joined, and the conversation without it."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] in ("system", "developer"))
    return system, [m for m in messages if m["role"] not in ("system", "developer")]


def request_body(req: UpstreamRequest) -> dict[str, Any]:
    """The JSON body of ``req`` in its provider's format."""
    if req.provider == "anthropic":
        return _anthropic_body(req)
    if req.provider == "gemini":
        return _gemini_body(req)
    return _openai_body(req)


def _openai_body(req: UpstreamRequest) -> dict[str, Any]:
    body: dict[str, Any] = dict(req.extra)
    body.update(model=req.model, messages=req.messages)
    reasoning = is_reasoning(req.provider, req.model)
    if req.max_tokens is not None:
        tokens = max(req.max_tokens, REASONING_TOKEN_FLOOR) if reasoning else req.max_tokens
        body["max_completion_tokens" if req.provider == "openai" else "max_tokens"] = tokens
    if req.temperature is not None and not reasoning:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop"] = req.stop
    if req.schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": req.schema, "strict": True}}
    if req.logprobs and not reasoning:
        body["logprobs"] = True
    return body


def _anthropic_body(req: UpstreamRequest) -> dict[str, Any]:
    system, turns = split_system(req.messages)
    # No temperature: current Claude models have dropped sampling parameters (as the SDK adapter).
    body: dict[str, Any] = {"model": req.model, "max_tokens": req.max_tokens or DEFAULT_MAX_TOKENS,
                            "messages": [{"role": m["role"], "content": m["content"]} for m in turns]}
    if system:
        body["system"] = system
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop_sequences"] = req.stop
    return body


def gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema in Gemini's OpenAPI subset: upper-case types, no additionalProperties."""
    out = copy.deepcopy(schema)

    def fix(node):
        if isinstance(node, dict):
            node.pop("additionalProperties", None)
            if isinstance(node.get("type"), str):
                node["type"] = node["type"].upper()
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for value in node:
                fix(value)

    fix(out)
    return out


def _gemini_body(req: UpstreamRequest) -> dict[str, Any]:
    system, turns = split_system(req.messages)
    config: dict[str, Any] = {}
    if req.temperature is not None:
        config["temperature"] = req.temperature
    if req.max_tokens is not None:
        config["maxOutputTokens"] = (max(req.max_tokens, THINKING_TOKEN_FLOOR)
                                     if is_thinking(req.model) else req.max_tokens)
    if req.top_p is not None:
        config["topP"] = req.top_p
    if req.stop:
        config["stopSequences"] = req.stop
    if req.schema is not None:
        config["responseMimeType"] = "application/json"
        config["responseSchema"] = gemini_schema(req.schema)
    body: dict[str, Any] = {"contents": [{"role": "model" if m["role"] == "assistant" else "user",
                                          "parts": [{"text": m["content"]}]} for m in turns]}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if config:
        body["generationConfig"] = config
    return body


def read_body(provider: str, body: dict[str, Any]) -> UpstreamResult:
    """An :class:`UpstreamResult` from a success body; KeyError/TypeError/IndexError when the
    body has the wrong shape (the caller reports it as a malformed answer)."""
    if provider == "anthropic":
        usage = body["usage"]
        read = usage.get("cache_read_input_tokens") or 0
        write = usage.get("cache_creation_input_tokens") or 0
        text = "".join(b.get("text", "") for b in body["content"] if b.get("type") == "text")
        return UpstreamResult(text, int(usage["input_tokens"]) + read + write,
                              int(usage["output_tokens"]), read, write,
                              _FINISH.get(body.get("stop_reason") or "", "stop"),
                              body.get("id"), body.get("model"))
    if provider == "gemini":
        candidates = body.get("candidates") or []
        content = candidates[0].get("content") or {} if candidates else {}
        text = "".join(p.get("text", "") for p in content.get("parts") or [] if not p.get("thought"))
        meta = body.get("usageMetadata") or {}
        output = (meta.get("candidatesTokenCount") or 0) + (meta.get("thoughtsTokenCount") or 0)
        finish = candidates[0].get("finishReason", "STOP") if candidates else "STOP"
        return UpstreamResult(text, int(meta.get("promptTokenCount") or 0), int(output),
                              int(meta.get("cachedContentTokenCount") or 0), 0,
                              _FINISH.get(finish, "stop"), body.get("responseId"),
                              body.get("modelVersion"))
    choice = body["choices"][0]
    usage = body.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    tokens = None
    logprobs = choice.get("logprobs") or {}
    if logprobs.get("content"):
        tokens = [(t["token"], t["logprob"]) for t in logprobs["content"]]
    return UpstreamResult(choice["message"].get("content") or "", int(usage.get("prompt_tokens") or 0),
                          int(usage.get("completion_tokens") or 0),
                          int(details.get("cached_tokens") or 0),
                          int(details.get("cache_write_tokens") or 0),
                          choice.get("finish_reason") or "stop", body.get("id"), body.get("model"),
                          tokens)


def error_message(provider: str, body: Any) -> tuple[str | None, set[str], float | None]:
    """From an error body: the provider's message, Google's error reasons, Google's retry delay."""
    if not isinstance(body, dict):
        return None, set(), None
    error = body.get("error", body)
    if not isinstance(error, dict):
        return str(error)[:300], set(), None
    reasons, delay = set(), None
    for detail in error.get("details") or []:
        if isinstance(detail, dict):
            if detail.get("reason"):
                reasons.add(detail["reason"])
            match = re.fullmatch(r"([\d.]+)s", str(detail.get("retryDelay") or ""))
            if match:
                delay = float(match.group(1))
    if error.get("status") == "UNAUTHENTICATED":
        reasons.add("UNAUTHENTICATED")
    return error.get("message"), reasons, delay

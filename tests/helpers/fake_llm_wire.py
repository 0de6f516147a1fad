"""The three providers' wire formats, as :mod:`tests.helpers.fake_llm_server` speaks them.

Success bodies and error bodies (with their status codes and headers) for Anthropic Messages,
OpenAI Chat Completions (also used for the local OpenAI-compatible route) and Gemini
generateContent, checked against the types of the installed SDKs (anthropic 2.12, openai 3.54,
google-genai 3.4) so that each SDK parses them as it parses the real thing.
"""
from __future__ import annotations

import math
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from tests.helpers.fake_llm_server import Parsed


def _text_of(content: Any) -> str:
    """Text of a message content: a string or a list of typed blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def _last_user(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _anthropic_key(request: Request) -> str | None:
    """The key, from x-api-key or, as anthropic SDK 2.x sends it, ``Authorization: Bearer``."""
    key = request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if key is None and auth.lower().startswith("bearer "):
        key = auth[7:]
    return key


def _retry_after(params: dict[str, Any]) -> str:
    value = float(params.get("retry_after", 1))
    return str(int(value)) if value.is_integer() else str(value)


def _masked(key: str | None) -> str:
    """How OpenAI echoes a wrong key: its first 8 characters, stars, its last 4."""
    key = key or ""
    return key[:8] + "*" * 10 + key[-4:] if len(key) > 12 else key


# ---- Anthropic wire format ----------------------------------------------------------------
def _anthropic_error(status: int, etype: str, message: str, rid: str | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    rid = rid or uuid.uuid4().hex[:24]
    return JSONResponse({"type": "error", "error": {"type": etype, "message": message},
                         "request_id": f"req_{rid}"}, status_code=status,
                        headers={"request-id": f"req_{rid}", **(headers or {})})


def _anthropic_errors(kind: str, params: dict, parsed: Parsed, rid: str) -> Response:
    if kind == "rate_limit":
        return _anthropic_error(429, "rate_limit_error", "Number of request tokens has exceeded "
                                "your per-minute rate limit", rid, {"retry-after": _retry_after(params)})
    if kind == "server_error":
        return _anthropic_error(500, "api_error", "Internal server error", rid)
    if kind == "overloaded":
        return _anthropic_error(529, "overloaded_error", "Overloaded", rid)
    if kind == "auth":
        return _anthropic_error(401, "authentication_error", "invalid x-api-key", rid)
    return _anthropic_error(400, "invalid_request_error", "max_tokens: Field required", rid)


def _anthropic_ok(text: str, label: str, confidence: float | None, usage: dict, parsed: Parsed,
                  rid: str) -> Response:
    body = {
        "id": f"msg_{rid}", "type": "message", "role": "assistant", "model": parsed.model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": usage["input"] - usage["read"] - usage["write"],
                  "output_tokens": usage["output"],
                  "cache_creation_input_tokens": usage["write"],
                  "cache_read_input_tokens": usage["read"], "service_tier": "standard"},
    }
    return JSONResponse(body, headers={"request-id": f"req_{rid}"})


# ---- OpenAI wire format -------------------------------------------------------------------
def _openai_error(status: int, message: str, etype: str, code: str | None, rid: str | None = None,
                  headers: dict[str, str] | None = None) -> Response:
    rid = rid or uuid.uuid4().hex[:24]
    return JSONResponse({"error": {"message": message, "type": etype, "param": None, "code": code}},
                        status_code=status, headers={"x-request-id": f"req_{rid}", **(headers or {})})


def _openai_errors(kind: str, params: dict, parsed: Parsed, rid: str) -> Response:
    if kind == "rate_limit":
        return _openai_error(429, f"Rate limit reached for {parsed.model} on requests per min (RPM): "
                             "Limit 3, Used 3, Requested 1.", "requests", "rate_limit_exceeded", rid,
                             {"retry-after": _retry_after(params)})
    if kind == "server_error":
        return _openai_error(500, "The server had an error while processing your request. Sorry "
                             "about that!", "server_error", None, rid)
    if kind == "overloaded":
        return _openai_error(503, "The engine is currently overloaded, please try again later",
                             "server_error", None, rid)
    if kind == "auth":
        return _openai_error(401, f"Incorrect API key provided: {_masked(parsed.key)}. You can find "
                             "your API key at https://platform.openai.com/account/api-keys.",
                             "invalid_request_error", "invalid_api_key", rid)
    return _openai_error(400, "Invalid value for 'messages'.", "invalid_request_error", None, rid)


def _token_logprobs(text: str, label: str, confidence: float | None, top: int) -> list[dict]:
    """Per-token log-probabilities: the label's first token carries the model's confidence."""
    tokens = re.findall(r"\w+|[^\w\s]|\s+", text)
    anchored = re.search(r'(?:"label"\s*:\s*"|<label>\s*)' + re.escape(label), text) if label else None
    start = anchored.end() - len(label) if anchored else (text.find(label) if label else -1)
    out, pos = [], 0
    for token in tokens:
        p = (confidence if confidence is not None else 0.9) if pos == start else 0.999
        entry = {"token": token, "logprob": math.log(p), "bytes": list(token.encode("utf-8")),
                 "top_logprobs": []}
        if top:
            entry["top_logprobs"] = [{"token": token, "logprob": math.log(p),
                                      "bytes": list(token.encode("utf-8"))}]
        out.append(entry)
        pos += len(token)
    return out


def _openai_ok(text: str, label: str, confidence: float | None, usage: dict, parsed: Parsed,
               rid: str) -> Response:
    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop", "logprobs": None,
                              "message": {"role": "assistant", "content": text, "refusal": None,
                                          "annotations": []}}
    if parsed.logprobs:
        choice["logprobs"] = {"content": _token_logprobs(text, label, confidence, parsed.top_logprobs),
                              "refusal": None}
    body = {
        "id": f"chatcmpl-{rid}", "object": "chat.completion", "created": int(time.time()),
        "model": parsed.model, "choices": [choice], "service_tier": "default",
        "system_fingerprint": "fp_fake",
        "usage": {"prompt_tokens": usage["input"], "completion_tokens": usage["output"],
                  "total_tokens": usage["input"] + usage["output"],
                  "prompt_tokens_details": {"cached_tokens": usage["read"], "audio_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                "accepted_prediction_tokens": 0,
                                                "rejected_prediction_tokens": 0}},
    }
    return JSONResponse(body, headers={"x-request-id": f"req_{rid}"})


# ---- Gemini wire format -------------------------------------------------------------------
def _gemini_error(status: int, state: str, message: str, details: list | None = None) -> Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": state}
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status)


def _gemini_errors(kind: str, params: dict, parsed: Parsed, rid: str) -> Response:
    if kind == "rate_limit":
        delay = _retry_after(params)
        return _gemini_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check "
                             "quota).", [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                          "retryDelay": f"{delay}s"}])
    if kind == "server_error":
        return _gemini_error(500, "INTERNAL", "An internal error has occurred. Please retry or "
                             "report in https://developers.generativeai.google/guide/troubleshooting")
    if kind == "overloaded":
        return _gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
    if kind == "auth":
        # Google answers a wrong key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
        return _gemini_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                             [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                               "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                               "metadata": {"service": "generativelanguage.googleapis.com"}}])
    return _gemini_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name.")


def _gemini_ok(text: str, label: str, confidence: float | None, usage: dict, parsed: Parsed,
               rid: str) -> Response:
    meta: dict[str, Any] = {"promptTokenCount": usage["input"], "candidatesTokenCount": usage["output"],
                            "totalTokenCount": usage["input"] + usage["output"],
                            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": usage["input"]}]}
    if usage["read"]:
        meta["cachedContentTokenCount"] = usage["read"]
    body = {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": meta, "modelVersion": parsed.model, "responseId": rid,
    }
    return JSONResponse(body)


SUCCESS = {"anthropic": _anthropic_ok, "openai": _openai_ok, "local": _openai_ok, "gemini": _gemini_ok}
ERRORS = {"anthropic": _anthropic_errors, "openai": _openai_errors, "local": _openai_errors,
          "gemini": _gemini_errors}

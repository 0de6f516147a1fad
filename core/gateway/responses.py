"""What the client reads: OpenAI chat.completion bodies, server-sent event chunks, error bodies.

>>> [len(p) <= 24 for p in pieces("word " * 20, size=24)]
[True, True, True, True, True]
>>> "".join(pieces("a b  c", size=2))
'a b  c'
"""
from __future__ import annotations

from collections.abc import Iterator

import orjson

from core.gateway.engine import Completion


def completion_body(done: Completion) -> dict:
    result = done.answer.outcome.result
    return {"id": f"chatcmpl-{done.request_id}", "object": "chat.completion", "created": done.created,
            "model": done.answer.model_id,
            "choices": [{"index": 0, "finish_reason": result.finish_reason, "logprobs": None,
                         "message": {"role": "assistant", "content": done.answer.text,
                                     "refusal": None}}],
            "usage": done.usage(), "system_fingerprint": None}


def pieces(text: str, size: int = 48) -> Iterator[str]:
    """``text`` in chunks of at most ``size`` characters, cut after whitespace where possible."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            if cut > start:
                end = cut + 1
        yield text[start:end]
        start = end


def sse_events(done: Completion) -> Iterator[bytes]:
    """The answer as ``chat.completion.chunk`` events, then ``[DONE]`` (OpenAI's stream format)."""
    base = {"id": f"chatcmpl-{done.request_id}", "object": "chat.completion.chunk",
            "created": done.created, "model": done.answer.model_id, "system_fingerprint": None}

    def event(choices, **extra) -> bytes:
        return b"data: " + orjson.dumps({**base, "choices": choices, **extra}) + b"\n\n"

    usage = {"usage": None} if done.chat.include_usage else {}
    yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                  "finish_reason": None}], **usage)
    for part in pieces(done.answer.text or ""):
        yield event([{"index": 0, "delta": {"content": part}, "logprobs": None,
                      "finish_reason": None}], **usage)
    yield event([{"index": 0, "delta": {}, "logprobs": None,
                  "finish_reason": done.answer.outcome.result.finish_reason}], **usage)
    if done.chat.include_usage:
        yield event([], usage=done.usage())
    yield b"data: [DONE]\n\n"

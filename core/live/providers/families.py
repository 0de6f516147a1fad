"""Facts about model families that change what a request may carry, shared by the SDK adapters
and the gateway's thin HTTP path (:mod:`core.gateway.wire`).

>>> is_reasoning("openai", "o3-mini"), is_reasoning("local", "o3-mini"), is_thinking("gemini-2.5-flash")
(True, False, True)
"""
from __future__ import annotations

import re

# OpenAI reasoning models refuse temperature and logprobs, and spend max_completion_tokens on
# hidden reasoning before the answer: they get neither parameter and a token floor.
REASONING = re.compile(r"^(o\d|gpt-5)")
REASONING_TOKEN_FLOOR = 4096
# Gemini 2.5 and later think before answering, out of max_output_tokens: a floor too.
THINKING = re.compile(r"gemini-(2\.5|[3-9])")
THINKING_TOKEN_FLOOR = 4096


def is_reasoning(provider: str, model: str) -> bool:
    return provider == "openai" and bool(REASONING.match(model))


def is_thinking(model: str) -> bool:
    return bool(THINKING.search(model))

"""One small interface over every provider SDK.

A :class:`ChatRequest` goes in; a :class:`ChatResponse` (text, token usage, latency, the
provider's request id) comes out, or a :class:`ProviderError` says what went wrong and whether a
retry can help. Keys never appear in either, nor in any message an error carries.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChatRequest:
    model: str
    user: str
    system: str | None = None
    max_tokens: int = 256
    temperature: float = 0.0
    response_format: str = "text"  # text | json | a task's structured format (see prompts)
    schema: dict[str, Any] | None = None  # JSON schema for structured outputs, when used
    logprobs: bool = False


@dataclass(frozen=True)
class ChatResponse:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_read_tokens: int = 0
    cached_write_tokens: int = 0
    latency_ms: float = 0.0
    request_id: str | None = None
    logprob_confidence: float | None = None  # from token log-probabilities, when returned
    raw_model: str | None = None  # the model the provider says answered


@dataclass
class ProviderError(Exception):
    """A failed call. ``retryable`` for 429/5xx/timeouts; ``retry_after`` in seconds if given."""

    provider: str
    kind: str  # rate_limited | server_error | timeout | auth | bad_request | malformed | connection
    message: str
    status: int | None = None
    retryable: bool = False
    retry_after: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        code = f" HTTP {self.status}" if self.status else ""
        return f"{self.provider}{code} {self.kind}: {self.message}"


class Provider(ABC):
    """A provider adapter. ``name`` is the prefix in ``PROVIDER:MODEL`` (anthropic, openai, ...)."""

    name: str = "provider"

    @abstractmethod
    async def complete(self, request: ChatRequest) -> ChatResponse:
        ...

    async def aclose(self) -> None:  # release HTTP connections
        return None

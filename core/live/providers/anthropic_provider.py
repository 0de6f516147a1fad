"""Claude through the official ``anthropic`` SDK (Messages API).

>>> p = AnthropicProvider(api_key="sk-ant-...", base_url="http://127.0.0.1:8765")
>>> # await p.complete(ChatRequest(model="claude-haiku-4-5", user="2+2?"))  -> ChatResponse

``input_tokens`` in the ChatResponse counts every input token, cached ones included (the API
reports the uncached part, cache reads and cache writes separately; we add them up and keep the
cached parts in ``cached_read_tokens`` / ``cached_write_tokens``).
"""
from __future__ import annotations

import time

import anthropic

from core.live.providers.base import ChatRequest, ChatResponse, Provider, ProviderError
from core.live.providers.common import (
    DEFAULT_TIMEOUT,
    LoopBoundClient,
    base_url_for,
    call_stainless_sdk,
    kind_for_status,
    make_error,
    parse_retry_after,
)


class AnthropicProvider(LoopBoundClient, Provider):
    name = "anthropic"

    def __init__(self, api_key: str | None = None, base_url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
        self.api_key = api_key
        self.base_url = base_url_for(self.name, base_url)
        self.timeout = timeout

    def _make_client(self) -> anthropic.AsyncAnthropic:
        # max_retries=0: the runner owns retries, backoff and the circuit breaker.
        return anthropic.AsyncAnthropic(api_key=self.api_key or "", base_url=self.base_url,
                                        timeout=self.timeout, max_retries=0)

    def _params(self, request: ChatRequest) -> dict:
        # No temperature: the Messages API of current models (and anthropic SDK 2.x) has dropped
        # sampling parameters; the model's default is what production calls get anyway.
        params = {"model": request.model, "max_tokens": request.max_tokens,
                  "messages": [{"role": "user", "content": request.user}]}
        if request.system:
            # Marked cacheable: repeated system prompts (the task's instructions) are then billed
            # at the cache-read price; the API ignores the mark below its minimum length.
            params["system"] = [{"type": "text", "text": request.system,
                                 "cache_control": {"type": "ephemeral"}}]
        return params

    async def complete(self, request: ChatRequest) -> ChatResponse:
        if not self.api_key:
            raise make_error(self.name, "auth", "no API key: set ANTHROPIC_API_KEY or type one in the page")
        start = time.perf_counter()
        message = await call_stainless_sdk(
            self, anthropic, lambda: self.client().messages.create(**self._params(request)))
        latency_ms = (time.perf_counter() - start) * 1000.0
        try:
            text = "".join(block.text for block in message.content if getattr(block, "type", "") == "text")
            usage = message.usage
            read = usage.cache_read_input_tokens or 0
            write = usage.cache_creation_input_tokens or 0
            return ChatResponse(text=text, input_tokens=usage.input_tokens + read + write,
                                output_tokens=usage.output_tokens, cached_read_tokens=read,
                                cached_write_tokens=write, latency_ms=latency_ms,
                                request_id=getattr(message, "_request_id", None) or message.id,
                                raw_model=message.model)
        except (AttributeError, TypeError) as exc:
            raise make_error(self.name, "malformed", f"unexpected response shape: {exc}",
                             self.api_key) from None

    def _status_error(self, exc: anthropic.APIStatusError) -> ProviderError:
        status = exc.status_code
        kind = kind_for_status(status)
        if status == 529:  # Anthropic's "overloaded"
            kind = "server_error"
        message = getattr(exc, "api_message", None) or exc.message
        return make_error(self.name, kind, message, self.api_key, status=status,
                          retry_after=parse_retry_after(exc.response.headers),
                          request_id=getattr(exc, "request_id", None))

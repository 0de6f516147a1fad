"""Gemini through the official ``google-genai`` SDK (``client.aio.models.generate_content``).

>>> p = GeminiProvider(api_key="AIza...", base_url="http://127.0.0.1:8765")
>>> # await p.complete(ChatRequest(model="gemini-2.5-flash", user="2+2?"))  -> ChatResponse

Structured answers use ``response_mime_type="application/json"`` with ``response_schema``.
``input_tokens`` is ``promptTokenCount`` (cached tokens included; the cached part,
``cachedContentTokenCount``, is in ``cached_read_tokens``); ``output_tokens`` adds the thinking
tokens to the candidates' tokens, since both are billed as output.
A wrong key comes back from Google as HTTP 400 with reason ``API_KEY_INVALID``: mapped to ``auth``.
"""
from __future__ import annotations

import re
import time

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from core.live.providers.base import ChatRequest, ChatResponse, Provider, ProviderError
from core.live.providers.common import (
    DEFAULT_TIMEOUT,
    LoopBoundClient,
    base_url_for,
    kind_for_status,
    make_error,
    parse_retry_after,
    transport_error,
)
from core.live.providers.families import THINKING_TOKEN_FLOOR, is_thinking

_AUTH_REASONS = {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "ACCESS_TOKEN_EXPIRED"}


class GeminiProvider(LoopBoundClient, Provider):
    name = "gemini"

    def __init__(self, api_key: str | None = None, base_url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT):
        self.api_key = api_key
        self.base_url = base_url_for(self.name, base_url)
        self.timeout = timeout

    def _make_client(self) -> genai.Client:
        # attempts=1: the runner owns retries. Setting retry options also turns off the SDK's
        # implicit sleep-and-retry on connection errors.
        options = types.HttpOptions(timeout=int(self.timeout * 1000),
                                    retry_options=types.HttpRetryOptions(attempts=1))
        if self.base_url:
            options.base_url = self.base_url
        return genai.Client(api_key=self.api_key, http_options=options)

    async def aclose(self) -> None:
        sdk, self._sdk, self._loop = self._sdk, None, None
        if sdk is not None:
            await sdk.aio.aclose()

    def _config(self, request: ChatRequest) -> types.GenerateContentConfig:
        max_tokens = request.max_tokens
        if is_thinking(request.model):
            max_tokens = max(max_tokens, THINKING_TOKEN_FLOOR)
        config = types.GenerateContentConfig(temperature=request.temperature,
                                             max_output_tokens=max_tokens)
        if request.system:
            config.system_instruction = request.system
        if request.schema is not None:
            config.response_mime_type = "application/json"
            config.response_schema = request.schema
        elif request.response_format == "json":
            config.response_mime_type = "application/json"
        return config

    async def complete(self, request: ChatRequest) -> ChatResponse:
        if not self.api_key:
            raise make_error(self.name, "auth", "no API key: set GEMINI_API_KEY or type one in the page")
        start = time.perf_counter()
        try:
            response = await self.client().aio.models.generate_content(
                model=request.model, contents=request.user, config=self._config(request))
        except genai_errors.APIError as exc:
            raise self._status_error(exc) from None
        except ProviderError:
            raise
        except Exception as exc:  # httpx timeouts, connection errors, unreadable bodies
            mapped = transport_error(self.name, exc, self.api_key)
            if mapped is None:
                raise
            raise mapped from None
        latency_ms = (time.perf_counter() - start) * 1000.0
        try:
            candidates = response.candidates or []
            parts = (candidates[0].content.parts or []) if candidates and candidates[0].content else []
            text = "".join(part.text or "" for part in parts if not getattr(part, "thought", False))
            meta = response.usage_metadata
            output = ((meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)) if meta else 0
            return ChatResponse(text=text, input_tokens=(meta.prompt_token_count or 0) if meta else 0,
                                output_tokens=output,
                                cached_read_tokens=(meta.cached_content_token_count or 0) if meta else 0,
                                latency_ms=latency_ms, request_id=response.response_id,
                                raw_model=response.model_version)
        except (AttributeError, TypeError, IndexError) as exc:
            raise make_error(self.name, "malformed", f"unexpected response shape: {exc}",
                             self.api_key) from None

    def _status_error(self, exc: genai_errors.APIError) -> ProviderError:
        status = int(exc.code or 0)
        error = exc.details.get("error", exc.details) if isinstance(exc.details, dict) else {}
        details = error.get("details") or [] if isinstance(error, dict) else []
        reasons = {d.get("reason") for d in details if isinstance(d, dict)}
        kind = kind_for_status(status)
        if reasons & _AUTH_REASONS or exc.status == "UNAUTHENTICATED":
            kind = "auth"
        retry_after = None
        for detail in details:
            delay = detail.get("retryDelay") if isinstance(detail, dict) else None
            match = re.fullmatch(r"([\d.]+)s", str(delay)) if delay else None
            if match:
                retry_after = float(match.group(1))
        if retry_after is None and getattr(exc, "response", None) is not None:
            retry_after = parse_retry_after(getattr(exc.response, "headers", None))
        message = exc.message or str(exc)
        return make_error(self.name, kind, message, self.api_key, status=status or None,
                          retry_after=retry_after)

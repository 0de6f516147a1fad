"""GPT through the official ``openai`` SDK (Chat Completions), and any OpenAI-compatible server.

>>> gpt = OpenAIProvider(api_key="sk-...")                      # api.openai.com or OPENAI_BASE_URL
>>> llama = OpenAIProvider(name="local", base_url="http://127.0.0.1:11434/v1")  # Ollama, vLLM, llama.cpp

Structured answers use ``response_format`` (a JSON schema when the request carries one, JSON mode
otherwise). ``input_tokens`` is ``prompt_tokens`` (cached tokens included; the cached part is in
``cached_read_tokens``). With ``logprobs`` requested, ``logprob_confidence`` is the probability of
the first token of the chosen label (see :mod:`core.live.providers.logprobs`).
"""
from __future__ import annotations

import time

import openai

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
from core.live.providers.families import REASONING_TOKEN_FLOOR, is_reasoning
from core.live.providers.logprobs import label_token_probability

_LOCAL_KEY = "local-no-key"  # OpenAI-compatible local servers ignore the key, the SDK wants one


class OpenAIProvider(LoopBoundClient, Provider):
    def __init__(self, api_key: str | None = None, base_url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, name: str = "openai"):
        if name not in ("openai", "local"):
            raise ValueError(f"OpenAIProvider serves 'openai' or 'local', not {name!r}")
        self.name = name
        self.api_key = api_key
        self.base_url = base_url_for(name, base_url)
        self.timeout = timeout

    def _make_client(self) -> openai.AsyncOpenAI:
        # max_retries=0: the runner owns retries, backoff and the circuit breaker.
        return openai.AsyncOpenAI(api_key=self.api_key or _LOCAL_KEY, base_url=self.base_url,
                                  timeout=self.timeout, max_retries=0)

    def _params(self, request: ChatRequest) -> dict:
        messages = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.user})
        params: dict = {"model": request.model, "messages": messages}
        reasoning = is_reasoning(self.name, request.model)
        if self.name == "openai":
            params["max_completion_tokens"] = (max(request.max_tokens, REASONING_TOKEN_FLOOR)
                                               if reasoning else request.max_tokens)
        else:  # llama.cpp and older vLLM/Ollama builds only know max_tokens
            params["max_tokens"] = request.max_tokens
        if not reasoning:
            params["temperature"] = request.temperature
        if request.schema is not None:
            params["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "answer", "schema": request.schema, "strict": True}}
        elif request.response_format == "json":
            params["response_format"] = {"type": "json_object"}
        if request.logprobs and not reasoning:
            params["logprobs"] = True
        return params

    async def complete(self, request: ChatRequest) -> ChatResponse:
        if self.name == "openai" and not self.api_key:
            raise make_error(self.name, "auth", "no API key: set OPENAI_API_KEY or type one in the page")
        start = time.perf_counter()
        completion = await call_stainless_sdk(
            self, openai, lambda: self.client().chat.completions.create(**self._params(request)))
        latency_ms = (time.perf_counter() - start) * 1000.0
        try:
            choice = completion.choices[0]
            text = choice.message.content or ""
            usage = completion.usage
            details = getattr(usage, "prompt_tokens_details", None) if usage else None
            read = (getattr(details, "cached_tokens", None) or 0) if details else 0
            write = (getattr(details, "cache_write_tokens", None) or 0) if details else 0
            confidence = None
            if request.logprobs and choice.logprobs is not None and choice.logprobs.content:
                confidence = label_token_probability(
                    [(t.token, t.logprob) for t in choice.logprobs.content])
            return ChatResponse(text=text, input_tokens=usage.prompt_tokens if usage else 0,
                                output_tokens=usage.completion_tokens if usage else 0,
                                cached_read_tokens=read, cached_write_tokens=write,
                                latency_ms=latency_ms,
                                request_id=getattr(completion, "_request_id", None) or completion.id,
                                logprob_confidence=confidence, raw_model=completion.model)
        except (AttributeError, TypeError, IndexError) as exc:
            raise make_error(self.name, "malformed", f"unexpected response shape: {exc}",
                             self.api_key) from None

    def _status_error(self, exc: openai.APIStatusError) -> ProviderError:
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
        message = error.get("message") or exc.message
        return make_error(self.name, kind_for_status(status), message, self.api_key, status=status,
                          retry_after=parse_retry_after(exc.response.headers),
                          request_id=getattr(exc, "request_id", None))

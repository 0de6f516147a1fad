"""The thin HTTP path to providers: :mod:`core.gateway.http1`, orjson and the wire formats of
:mod:`core.gateway.wire`.

The SDKs cost more CPU per call than the gateway itself (a pass-through Starlette app measured
352 req/s with httpx and 5,200 req/s with aiohttp + orjson + uvloop on these machines), so the
gateway speaks HTTP itself, with a client that does only a provider call (aiohttp was 38% of a
worker's CPU per request). Keys and base URLs come from the same places as ``core run``
(:mod:`core.settings`, :mod:`core.live.keys`); keys are registered for redaction and never leave
the process. Failures become :class:`~core.live.providers.base.ProviderError` with the same kinds
the runner uses (rate_limited, server_error, timeout, connection, auth, bad_request, malformed)::

    upstream = Upstream()                     # keys and base URLs from the environment
    result = await upstream.call(UpstreamRequest("openai", "gpt-4o-mini", messages), timeout=30)
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import orjson

from core.gateway.http1 import Client
from core.gateway.wire import (
    UpstreamRequest,
    UpstreamResult,
    endpoint,
    error_message,
    read_body,
    request_body,
)
from core.live.keys import install_log_redaction, register_secret, resolve_key
from core.live.providers.base import ProviderError
from core.live.providers.common import base_url_for, kind_for_status, make_error, parse_retry_after
from core.settings import PROVIDERS

USER_AGENT = "tradeoff-gateway"
_AUTH_REASONS = {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "ACCESS_TOKEN_EXPIRED", "UNAUTHENTICATED"}


class Upstream:
    """Provider endpoints and one connection pool per provider and event loop.

    ``keys`` / ``base_urls`` (provider -> value) override the environment, e.g. for a test or a
    library user with several accounts; they are never written anywhere.
    """

    def __init__(self, keys: Mapping[str, str] | None = None,
                 base_urls: Mapping[str, str] | None = None, pool_size: int = 512):
        install_log_redaction()
        self.keys: dict[str, str | None] = {}
        self.base_urls: dict[str, str | None] = {}
        for provider in PROVIDERS:
            key = (keys or {}).get(provider) or resolve_key(provider)
            register_secret(key)
            self.keys[provider] = key
            self.base_urls[provider] = base_url_for(provider, (base_urls or {}).get(provider))
        self.pool_size = pool_size
        self._clients: dict[tuple[asyncio.AbstractEventLoop, str], Client] = {}
        self.timeout_s = 60.0  # the default time limit of a call; Caller sets it from its settings
        self._endpoints: dict[tuple[str, str], str] = {}

    def client(self, provider: str = "openai") -> Client:
        """The connection pool of ``provider`` on the running loop. Its key headers are the
        pool's own, so a call passes only its URL and body."""
        loop = asyncio.get_running_loop()
        key = (loop, provider)
        client = self._clients.get(key)
        if client is None or client.closed:
            _, headers = endpoint(provider, "-", self.base_urls.get(provider), self.keys.get(provider))
            headers["user-agent"] = USER_AGENT
            client = Client(headers, limit=self.pool_size, keepalive_s=30.0)
            self._clients = {k: v for k, v in self._clients.items() if not k[0].is_closed()}
            self._clients[key] = client
        return client

    async def aclose(self) -> None:
        """Close this loop's connections."""
        loop = asyncio.get_running_loop()
        for key in [k for k in self._clients if k[0] is loop]:
            await self._clients.pop(key).close()

    def missing_key(self, provider: str) -> str | None:
        """Why ``provider`` cannot be called (no key where one is required), else None."""
        settings = PROVIDERS[provider]
        if settings.key_required and not self.keys.get(provider):
            return f"no API key for {provider}: set {settings.key_env[0]} where the gateway runs"
        return None

    def _url(self, provider: str, model: str) -> str:
        key = (provider, model)
        found = self._endpoints.get(key)
        if found is None:
            found = endpoint(provider, model, self.base_urls.get(provider), self.keys.get(provider))[0]
            if len(self._endpoints) < 10_000:
                self._endpoints[key] = found
        return found

    async def call(self, req: UpstreamRequest, timeout: float) -> tuple[UpstreamResult, float]:
        """One HTTP call; returns the result and its latency in ms, or raises ProviderError."""
        provider = req.provider
        key = self.keys.get(provider)
        missing = self.missing_key(provider)
        if missing:
            raise make_error(provider, "auth", missing)
        url = self._url(provider, req.model)
        data = orjson.dumps(request_body(req))
        client = self.client(provider)
        started = time.perf_counter()
        try:
            reply = await client.post(url, data, timeout)
        except TimeoutError:
            raise make_error(provider, "timeout", f"no answer within {timeout:g} s", key) from None
        except OSError as exc:  # refused, unreachable, dropped, not HTTP (http1.HTTPError)
            raise make_error(provider, "connection", f"could not reach {url.split('/v1')[0]}: "
                             f"{type(exc).__name__}: {exc}", key) from None
        latency_ms = (time.perf_counter() - started) * 1000.0
        raw, status, resp_headers = reply.body, reply.status, reply.headers
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        if status >= 400:
            raise _status_error(provider, status, body, resp_headers, key, raw)
        if not isinstance(body, dict):
            raise make_error(provider, "malformed", "the response is not a JSON object", key,
                             status=status)
        try:
            result = read_body(provider, body)
        except (KeyError, TypeError, IndexError, AttributeError, ValueError) as exc:
            raise make_error(provider, "malformed", f"unexpected response shape: {exc!r}", key,
                             status=status) from None
        if result.request_id is None:
            rid = resp_headers.get("x-request-id") or resp_headers.get("request-id")
            if rid:
                result = UpstreamResult(**{**result.__dict__, "request_id": rid})
        return result, latency_ms


def _status_error(provider: str, status: int, body, headers, key: str | None, raw: bytes) -> ProviderError:
    message, reasons, delay = error_message(provider, body)
    kind = kind_for_status(status)
    if status == 529:  # Anthropic's "overloaded"
        kind = "server_error"
    if reasons & _AUTH_REASONS:
        kind = "auth"
    retry_after = delay if delay is not None else parse_retry_after(dict(headers))
    text = message or raw[:200].decode("utf-8", "replace") or f"HTTP {status}"
    rid = headers.get("x-request-id") or headers.get("request-id")
    return make_error(provider, kind, text, key, status=status, retry_after=retry_after,
                      request_id=rid)

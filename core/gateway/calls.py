"""One logical provider call: retries with backoff, a circuit breaker per model, every attempt kept.

Each HTTP attempt, failed or not, becomes an :class:`Attempt` (one ledger row): the ledger counts
exactly the requests the providers saw. A failed attempt costs nothing (providers do not bill
errors); a successful one costs what the catalog says for the tokens the provider reported.

Retryable failures (429, 5xx, timeouts, dropped connections) are retried ``max_retries`` times
with exponential backoff and full jitter (:func:`core.live.limits.backoff_delay`), never sooner
than the provider's ``retry-after``; a ``retry-after`` longer than ``max_retry_wait_s`` is not
waited for (the fallback chain answers sooner). After ``breaker_threshold`` consecutive failures
a model fails fast for ``breaker_cooldown_s`` (no request is sent, so no row is written).
"""
from __future__ import annotations

import asyncio
import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from core.gateway.upstream import Upstream
from core.gateway.wire import UpstreamRequest, UpstreamResult
from core.live.limits import CircuitBreaker, backoff_delay
from core.live.providers.base import ProviderError
from core.pricing.catalog import Catalog


@dataclass(frozen=True)
class CallSettings:
    timeout_s: float = 60.0
    max_retries: int = 2
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 2.0
    max_retry_wait_s: float = 5.0
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 30.0


@dataclass(frozen=True)
class Attempt:
    """One HTTP request to a provider, as the ledger records it."""

    provider: str
    model: str
    status: str  # ok | rate_limited | server_error | timeout | connection | auth | bad_request | malformed
    ts: datetime
    latency_ms: float
    input_tokens: int = 0
    output_tokens: int = 0
    cached_read_tokens: int = 0
    cached_write_tokens: int = 0
    cost_usd: float | None = 0.0  # None: the model has no price in the catalog
    request_id: str | None = None


@dataclass
class CallOutcome:
    """A logical call: the result (or the last error) and every attempt made for it."""

    model_id: str
    result: UpstreamResult | None = None
    error: ProviderError | None = None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def cost(self) -> Decimal | None:
        """Exact sum of the attempts' costs (None when a successful attempt had no price)."""
        total = Decimal(0)
        for a in self.attempts:
            if a.cost_usd is None:
                return None
            total += Decimal(repr(a.cost_usd))
        return total


class Caller:
    """Makes calls through ``upstream``, priced with ``catalog``."""

    def __init__(self, upstream: Upstream, catalog: Catalog, settings: CallSettings | None = None,
                 rng: random.Random | None = None):
        self.upstream = upstream
        self.catalog = catalog
        self.settings = settings or CallSettings()
        upstream.timeout_s = self.settings.timeout_s
        self.rng = rng or random.Random()
        self.breakers: dict[str, CircuitBreaker] = {}
        self._costs: OrderedDict[tuple, float | None] = OrderedDict()

    def price(self, provider: str, model: str, r: UpstreamResult) -> float | None:
        key = (provider, model, r.input_tokens, r.output_tokens, r.cached_read_tokens,
               r.cached_write_tokens)
        if key in self._costs:
            return self._costs[key]
        cost = self.catalog.call_cost(f"{provider}:{model}", r.input_tokens, r.output_tokens,
                                      cached_read_tokens=r.cached_read_tokens,
                                      cached_write_tokens=r.cached_write_tokens)
        self._costs[key] = cost
        if len(self._costs) > 20_000:
            self._costs.popitem(last=False)
        return cost

    def breaker(self, model_id: str) -> CircuitBreaker:
        found = self.breakers.get(model_id)
        if found is None:
            s = self.settings
            found = self.breakers[model_id] = CircuitBreaker(s.breaker_threshold, s.breaker_cooldown_s)
        return found

    async def call(self, req: UpstreamRequest) -> CallOutcome:
        model_id = f"{req.provider}:{req.model}"
        outcome = CallOutcome(model_id)
        breaker = self.breaker(model_id)
        s = self.settings
        for attempt in range(s.max_retries + 1):
            if not breaker.allow():
                outcome.error = ProviderError(req.provider, "circuit_open",
                                              f"{model_id} failed {breaker.threshold} times in a row; "
                                              f"not called for {s.breaker_cooldown_s:g} s",
                                              retryable=False)
                return outcome
            ts = datetime.now(UTC).replace(tzinfo=None)
            started = time.perf_counter()
            try:
                result, latency = await self.upstream.call(req, s.timeout_s)
            except ProviderError as exc:
                latency = (time.perf_counter() - started) * 1000.0
                outcome.attempts.append(Attempt(req.provider, req.model, exc.kind, ts, latency,
                                                request_id=exc.extra.get("request_id")))
                outcome.error = exc
                if exc.kind not in ("bad_request", "malformed"):
                    breaker.record_failure()
                if not exc.retryable or attempt == s.max_retries:
                    return outcome
                if exc.retry_after is not None and exc.retry_after > s.max_retry_wait_s:
                    return outcome
                await asyncio.sleep(backoff_delay(attempt, s.backoff_base_s, s.backoff_cap_s,
                                                  exc.retry_after, self.rng))
                continue
            breaker.record_success()
            outcome.attempts.append(Attempt(
                req.provider, req.model, "ok", ts, latency, result.input_tokens,
                result.output_tokens, result.cached_read_tokens, result.cached_write_tokens,
                self.price(req.provider, req.model, result), result.request_id))
            outcome.result, outcome.error = result, None
            return outcome
        return outcome

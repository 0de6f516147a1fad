"""Flow control for live calls: a request-rate limit, backoff with jitter, a circuit breaker.

All three are small and deterministic given a clock, so they can be tested without a network::

    bucket = TokenBucket(rate=5.0)           # at most ~5 requests/s per provider, burst 5
    await bucket.acquire()                   # waits only when the bucket is empty

    backoff_delay(2, base=0.5, cap=20.0, retry_after=None, rng=random.Random(0))
    # full jitter: uniform(0, min(cap, base * 2**attempt)) -> a float in [0, 2.0)

    breaker = CircuitBreaker(threshold=5, cooldown=30.0)
    breaker.allow()      # True while closed; False while open; one probe when half-open
    breaker.retry_in()   # seconds until the next probe may go (callers wait, they do not fail)
"""
from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable


class TokenBucket:
    """A request-rate limit: ``rate`` requests per second on average, bursts of ``burst``.

    ``acquire`` reserves a token and sleeps for the debt, so concurrent callers are served in
    arrival order without polling.
    """

    def __init__(self, rate: float, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if rate <= 0:
            raise ValueError("rate must be positive (requests per second)")
        self.rate = float(rate)
        self.capacity = float(burst if burst is not None else max(1.0, rate))
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()

    def reserve(self) -> float:
        """Take one token; return how long the caller must wait before using it (seconds)."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 20.0,
                  retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (attempt counts from 0).

    Exponential backoff with full jitter (AWS architecture blog): uniform(0, min(cap,
    base * 2**attempt)). A server's ``retry_after`` is a floor: we never come back sooner than
    it asked.

    >>> backoff_delay(0, retry_after=3.0, rng=random.Random(1)) >= 3.0
    True
    """
    rng = rng or random
    ceiling = min(cap, base * (2 ** attempt))
    delay = rng.uniform(0.0, ceiling)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, float(retry_after))
    return delay


class CircuitBreaker:
    """Stop hammering a provider that keeps failing.

    * closed: calls go through; ``threshold`` consecutive failures open it;
    * open: no call goes (``allow()`` is False) until ``cooldown`` seconds have passed; callers
      wait ``retry_in()`` seconds, they do not fail (a burst of 429s is a reason to pause);
    * half-open: one probe call is let through; success closes the breaker, failure re-opens it
      and counts in ``failed_probes`` (reset by a success): a provider whose probes keep
      failing is down, and the caller decides after how many probes to stop waiting.

    >>> now = [0.0]
    >>> b = CircuitBreaker(threshold=2, cooldown=10, clock=lambda: now[0])
    >>> b.record_failure(); b.record_failure(); b.state, b.retry_in()
    ('open', 10.0)
    >>> now[0] = 10.0; b.allow(), b.allow(), b.retry_in()    # one probe; the rest keep waiting
    (True, False, 0.0)
    >>> b.record_failure(); b.state, b.failed_probes, b.retry_in()
    ('open', 1, 10.0)
    """

    def __init__(self, threshold: int = 5, cooldown: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.threshold = max(1, int(threshold))
        self.cooldown = float(cooldown)
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self.times_opened = 0
        self.failed_probes = 0  # probes that failed since the last success

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True  # exactly one probe until it reports back
            return True
        return False

    def retry_in(self) -> float:
        """Seconds until the breaker lets a probe through (0 when closed or the cool-down is
        over; a probe may then be in flight, so ``allow()`` can still say no for a moment)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown - (self._clock() - self._opened_at))

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False
        self.failed_probes = 0

    def record_failure(self) -> None:
        self._failures += 1
        if self._probing:
            self.failed_probes += 1
        if self._probing or self._failures >= self.threshold:
            if self._opened_at is None or self._probing:
                self.times_opened += 1
            self._opened_at = self._clock()
            self._probing = False

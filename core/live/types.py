"""What a live run is configured with and reports: its config, progress and result.

>>> RunConfig(concurrency=4).to_dict()["concurrency"]
4
>>> Progress(total=10, done=5, ok=5).line()
'5/10 done (5 ok, 0 cached, 0 failed, 0 from before), saved 0, spend $0.0000'
"""
from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from core.live.cache import CacheConfig


@dataclass
class RunConfig:
    """Everything that shapes a run except keys (which are never stored)."""

    concurrency: int = 8
    max_retries: int = 3
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 20.0
    rate_limits: dict[str, float] = field(default_factory=dict)  # provider -> requests per second
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 30.0
    # An open breaker makes calls wait for the cool-down; after this many failed probes in a
    # row the provider is taken as down and its remaining calls fail with its last error.
    breaker_probes: int = 3
    timeout_s: float = 60.0
    max_tokens: int | None = None  # None: the prompt template's own
    temperature: float | None = None
    fallbacks: dict[str, list[str]] = field(default_factory=dict)  # model -> next models to try
    spend_cap_usd: float | None = None
    cache: CacheConfig = field(default_factory=CacheConfig)
    flush_interval_s: float = 0.5
    flush_rows: int = 64
    experiment: str | None = None
    source: str = "live"
    # "stated": the confidence the model writes in its answer; "logprob": the probability of the
    # label's first token where the provider returns log-probabilities (OpenAI), else stated.
    confidence_source: str = "stated"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["cache"] = self.cache.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        data = dict(data)
        cache = CacheConfig(**data.pop("cache", {}))
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(cache=cache, **known)


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress bars. ``done`` counts (item, model) pairs with a final outcome."""

    total: int
    done: int = 0
    ok: int = 0
    failed: int = 0
    cached: int = 0
    resumed: int = 0  # answered by an earlier attempt of this run
    saved: int = 0  # outcomes of this attempt already written to the workspace
    spend_usd: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float | None = None
    status: str = "running"

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    def line(self) -> str:
        eta = "" if self.eta_s is None else f", ETA {self.eta_s:,.0f}s"
        return (f"{self.done}/{self.total} done ({self.ok} ok, {self.cached} cached, "
                f"{self.failed} failed, {self.resumed} from before), saved {self.saved}, "
                f"spend ${self.spend_usd:.4f}{eta}")


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: str  # finished | cancelled | spend_cap | failed
    progress: Progress
    results_evalset_id: int | None
    message: str | None = None


def new_run_id(prefix: str = "run") -> str:
    return f"{prefix}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"

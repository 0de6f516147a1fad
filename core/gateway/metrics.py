"""Prometheus metrics of the gateway (``GET /metrics``).

With several worker processes, ``serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a folder of the
gateway's runtime directory before the workers start, and ``/metrics`` adds up every worker's.
"""
from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

REQUESTS = Counter("tradeoff_gateway_requests_total", "Chat completion requests answered",
                   ["policy", "status"])
CALLS = Counter("tradeoff_gateway_provider_calls_total", "Requests sent to providers (every attempt)",
                ["provider", "model", "status"])
COST = Counter("tradeoff_gateway_cost_usd_total", "Provider cost of answered requests (USD)", ["policy"])
FALLBACKS = Counter("tradeoff_gateway_fallbacks_total",
                    "Requests answered by a later model than the first tried (escalation or fallback)", ["policy"])
LATENCY = Histogram("tradeoff_gateway_request_seconds", "Time from request to answer", ["policy"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
SPOOLED = Counter("tradeoff_gateway_spooled_rows_total", "Ledger rows appended to the spool")


_children: dict[tuple, object] = {}


def child(metric, *labels):
    """``metric.labels(*labels)``, remembered (the lookup costs more than the increment)."""
    key = (metric, labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


def observe(done, seconds: float) -> None:
    """Count one finished request (a :class:`core.gateway.engine.Completion`)."""
    policy = done.target.policy or "direct"
    child(REQUESTS, policy, "ok" if done.ok else "error").inc()
    for a in done.attempts:
        child(CALLS, a.provider, a.model, a.status).inc()
    cost = done.cost
    if cost:
        child(COST, policy).inc(float(cost))
    tried = done.models_tried()
    if done.ok and tried and done.answer.model_id != tried[0]:
        child(FALLBACKS, policy).inc()
    child(LATENCY, policy).observe(seconds)


def spooled(rows: int) -> None:
    SPOOLED.inc(rows)


def refused(status: int) -> None:
    child(REQUESTS, "none", str(status)).inc()


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST

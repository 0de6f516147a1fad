"""Service-level checks at the operating points of a frontier.

:func:`sla_search`: which operating points of a frontier meet targets for p50/p95/p99 latency,
minimum quality, maximum cost per query and maximum escalation rate, and the cheapest one
(its intervals come from :mod:`core.evaluation.intervals`, like every other figure's).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InputError

TARGETS = {
    "p50_ms": "p50 latency (ms) at most", "p95_ms": "p95 latency (ms) at most",
    "p99_ms": "p99 latency (ms) at most", "min_quality": "quality at least",
    "max_cost": "cost per query (USD) at most", "max_escalation": "escalation rate at most",
}
LATENCY_TARGETS = {"p50_ms": 50, "p95_ms": 95, "p99_ms": 99}


@dataclass(eq=False)
class SLAResult:
    table: pd.DataFrame  # per point: quality_ok, cost_ok, escalation_ok, latency_ok (NA = not checked), ok
    best: dict | None  # cheapest compliant point: thresholds, quality, cost_per_item, p50/p95/p99
    checked_latency: int  # points whose latency percentiles were computed
    message: str


def _clean_targets(targets: dict) -> dict[str, float]:
    clean = {}
    for key, value in (targets or {}).items():
        if key not in TARGETS:
            raise InputError(f"Unknown SLA target '{key}': use {', '.join(TARGETS)}")
        if value is None:
            continue
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InputError(f"SLA target '{key}' must be a number; got {value!r}") from None
        if np.isnan(v) or v < 0:
            raise InputError(f"SLA target '{key}' must be a non-negative number; got {value!r}")
        clean[key] = v
    return clean


def point_latency(frontier, rows) -> np.ndarray:
    """p50/p95/p99 latency [len(rows), 3] at the given points (items without latency skipped)."""
    cum = np.cumsum(frontier.plan.step_latency, axis=1)
    stops = frontier.stops(rows)
    lat = np.take_along_axis(np.broadcast_to(cum, (len(rows),) + cum.shape),
                             stops[:, :, None], axis=2)[:, :, 0]
    if np.isnan(lat).any():
        return np.nanpercentile(lat, [50, 95, 99], axis=1).T
    return np.percentile(lat, [50, 95, 99], axis=1).T


def sla_search(frontier, targets: dict, max_latency_checks: int = 2000,
               batch: int = 32) -> SLAResult:
    """Compliance of every point with ``targets`` (keys of ``TARGETS``) and the cheapest
    compliant point, if any.

    Quality, cost and escalation are known at every point. Latency percentiles are computed
    (exactly, O(n) per point) for the points meeting the other targets, cheapest first, until
    the cheapest compliant point is found or ``max_latency_checks`` points were tried.
    """
    t = _clean_targets(targets)
    pts = frontier.points
    table = pd.DataFrame(index=pts.index)
    ok = np.ones(len(pts), dtype=bool)
    for key, col, better in (("min_quality", "quality", "ge"), ("max_cost", "cost_per_item", "le"),
                             ("max_escalation", "escalation_rate", "le")):
        if key in t:
            v = pts[col].to_numpy()
            good = (v >= t[key] - 1e-12) if better == "ge" else (v <= t[key] + 1e-12)
            table[f"{col}_ok"] = good
            ok &= good
    lat_targets = {k: v for k, v in t.items() if k in LATENCY_TARGETS}
    latency_ok = pd.Series(pd.NA, index=pts.index, dtype="boolean")
    checked = 0
    best_row = None
    lat_values = {}
    order = np.flatnonzero(ok)
    order = order[np.argsort(pts["cost_per_item"].to_numpy()[order], kind="stable")]
    if lat_targets:
        if frontier.plan is None or np.isnan(frontier.plan.step_latency).all():
            raise InputError("This eval set has no latency, so latency targets cannot be checked; "
                             "clear the p50/p95/p99 targets or load an eval set with latency_ms")
        limit = np.array([lat_targets.get(k, np.inf) for k in LATENCY_TARGETS])
        for start in range(0, min(len(order), max_latency_checks), batch):
            rows = order[start:start + batch]
            pct = point_latency(frontier, rows)
            good = (pct <= limit[None, :] + 1e-9).all(axis=1)
            latency_ok.iloc[rows] = good
            for r, p in zip(rows, pct):
                lat_values[int(r)] = p
            checked += len(rows)
            if good.any():
                best_row = int(rows[np.argmax(good)])
                break
    elif len(order):
        best_row = int(order[0])
    table["latency_ok"] = latency_ok
    table["ok"] = pd.Series(ok, index=pts.index, dtype="boolean") & (
        latency_ok if lat_targets else True)
    best = None
    if best_row is not None:
        row = pts.iloc[best_row]
        pct = lat_values.get(best_row)
        has_latency = frontier.plan is not None and not np.isnan(frontier.plan.step_latency).all()
        if pct is None and has_latency:
            pct = point_latency(frontier, [best_row])[0]
        best = {"row": best_row,
                "thresholds": [float(row[c]) for c in frontier.threshold_columns],
                "quality": float(row["quality"]), "cost_per_item": float(row["cost_per_item"]),
                "escalation_rate": float(row["escalation_rate"]),
                **({f"p{q}_ms": float(v) for q, v in zip((50, 95, 99), pct)} if pct is not None else {})}
        message = "The cheapest point meeting every target is shown."
    elif not len(order):
        message = "No operating point meets the quality, cost and escalation targets."
    else:
        message = (f"No point meets the latency targets among the {checked} cheapest points that "
                   "meet the other targets.")
    return SLAResult(table, best, checked, message)

"""Guardrails and the go / no-go / inconclusive verdict of an A/B comparison.

A guardrail fires when the candidate is strictly *above* its threshold (``>``; a value equal to
the threshold does not fire). Values within a relative 1e-9 of the threshold count as equal, so
``0.9 - 0.88`` against a tolerance of ``0.02`` does not fire on floating-point noise::

    >>> rules = Guardrails(error_ratio=1.5, latency_ratio=1.5, quality_drop=0.02)
    >>> [g.fired for g in check_guardrails(rules, error_rate=(0.02, 0.03), p95_ms=(100, 151),
    ...                                    quality=(0.90, 0.88))]
    [False, True, False]

The verdict combines non-inferiority on quality (the difference's interval must stay above
``-tolerance``), a cost saving (the cost difference's interval below zero) and the guardrails.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from core.evaluation.stats import Comparison
from core.exports import signed_text

_REL = 1e-9


@dataclass(frozen=True)
class Guardrails:
    """Rollback rules: candidate error rate above ``error_ratio`` × control's, candidate p95
    latency above ``latency_ratio`` × control's, quality drop (control - candidate) above
    ``quality_drop`` (default: the experiment's tolerance)."""

    error_ratio: float = 1.5
    latency_ratio: float = 1.5
    quality_drop: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GuardrailCheck:
    name: str
    observed: float
    threshold: float
    fired: bool
    evaluated: bool
    rule: str

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}

    def describe(self) -> str:
        if not self.evaluated:
            return f"{self.name}: not evaluated ({self.rule})"
        state = "FIRED" if self.fired else "ok"
        return f"{self.name}: {state} ({self.observed:.4g} vs threshold {self.threshold:.4g}; {self.rule})"


def above(observed: float, threshold: float) -> bool:
    """Strictly above ``threshold``, ignoring floating-point noise at the threshold itself."""
    if math.isnan(observed) or math.isnan(threshold):
        return False
    if math.isclose(observed, threshold, rel_tol=_REL, abs_tol=1e-12):
        return False
    return observed > threshold


def check_guardrails(rules: Guardrails, error_rate: tuple[float, float], p95_ms: tuple[float, float],
                     quality: tuple[float, float], tolerance: float = 0.02) -> list[GuardrailCheck]:
    """Each pair is ``(control, candidate)``. Returns one check per rule, in a fixed order."""
    drop_limit = rules.quality_drop if rules.quality_drop is not None else tolerance
    err_a, err_b = map(float, error_rate)
    lat_a, lat_b = map(float, p95_ms)
    q_a, q_b = map(float, quality)
    checks = []
    err_threshold = rules.error_ratio * err_a
    checks.append(GuardrailCheck(
        "error rate", err_b, err_threshold, above(err_b, err_threshold),
        not (math.isnan(err_a) or math.isnan(err_b)),
        f"candidate error rate > {rules.error_ratio:g}x control ({err_a:.2%})"))
    lat_ok = not (math.isnan(lat_a) or math.isnan(lat_b))
    lat_threshold = rules.latency_ratio * lat_a
    checks.append(GuardrailCheck(
        "p95 latency", lat_b, lat_threshold, above(lat_b, lat_threshold), lat_ok,
        f"candidate p95 > {rules.latency_ratio:g}x control ({lat_a:.0f} ms)" if lat_ok
        else "no latency recorded in one arm"))
    drop = q_a - q_b
    q_ok = not math.isnan(drop)
    checks.append(GuardrailCheck(
        "quality drop", drop, drop_limit, above(drop, drop_limit), q_ok,
        f"control - candidate quality > {drop_limit:g}" if q_ok else "no scored items in one arm"))
    return checks


@dataclass(frozen=True)
class Verdict:
    decision: str  # go | no-go | inconclusive
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def decide(quality: Comparison, cost: Comparison, checks: list[GuardrailCheck], tolerance: float,
           enough_data: bool = True) -> Verdict:
    """The verdict, first rule that applies wins:

    1. a guardrail fired -> no-go;
    2. quality interval entirely below ``-tolerance`` -> no-go (worse beyond tolerance);
    3. quality interval reaches ``-tolerance`` -> inconclusive (a drop beyond tolerance is not
       ruled out; more data may decide);
    4. non-inferior and cost interval below 0 -> go; above 0 -> no-go (costs more);
       spanning 0 -> inconclusive (no measurable saving).
    """
    fired = [c for c in checks if c.fired]
    if fired:
        return Verdict("no-go", "Rollback trigger: " + "; ".join(c.describe() for c in fired))
    if math.isnan(quality.diff) or math.isnan(quality.low):
        return Verdict("inconclusive", "Quality cannot be compared: an arm has too few scored items")
    q_text = (f"quality {signed_text(quality.diff)} (95% CI {signed_text(quality.low)} to "
              f"{signed_text(quality.high)}, {quality.test}, p={quality.p_value:.3g})")
    more = "" if enough_data else " The arms are smaller than the sample size needed to decide."
    if quality.high < -tolerance:
        return Verdict("no-go", f"Candidate is worse by more than the tolerance {tolerance:g}: {q_text}.")
    if quality.low <= -tolerance:
        return Verdict("inconclusive",
                       f"A quality drop larger than the tolerance {tolerance:g} cannot be ruled out: "
                       f"{q_text}.{more}")
    if math.isnan(cost.diff) or math.isnan(cost.low):
        return Verdict("inconclusive", f"Quality holds ({q_text}) but cost is unknown in an arm.")
    pct = (-cost.diff / cost.control) if cost.control else float("nan")
    c_text = (f"cost per item {signed_text(cost.diff, '+.6f')} USD (95% CI "
              f"{signed_text(cost.low, '+.6f')} to {signed_text(cost.high, '+.6f')}"
              + (f", {pct:+.0%} saving" if not math.isnan(pct) else "") + ")")
    if cost.high < 0:
        return Verdict("go", f"Quality is non-inferior within {tolerance:g}: {q_text}; and it saves: {c_text}.")
    if cost.low > 0:
        return Verdict("no-go", f"Quality holds ({q_text}) but the candidate costs more: {c_text}.")
    return Verdict("inconclusive", f"Quality holds ({q_text}) but no significant saving: {c_text}.{more}")

"""The regression gate: a policy (or one pinned model) checked on an eval set against thresholds.

Three checks, each ``passed``, ``failed`` or ``skipped`` (not asked for):

* **quality floor** (``min_quality``): the policy's mean score on the set's scored items is at
  least the floor (the point estimate decides; its 95% interval is shown);
* **cost ceiling** (``max_cost``): its mean cost per item (items of known cost) is at most the
  ceiling; no known cost at all fails, since the ceiling cannot be shown to hold;
* **paired regression vs baseline** (``baseline``, written by an earlier ``check`` on the same
  items, :mod:`core.routing.gate_files`): the per-item quality differences on the same items,
  tested one-sided (:func:`core.evaluation.stats.paired_drop`: McNemar's exact test for 0/1
  scores, the paired t-test for graded ones). It fails when the mean drop is larger than
  ``max_drop`` *and* the test says the policy is worse (p < ``alpha``): a drop that chance
  explains, or one within the allowed margin, passes.

The figures are measured on the eval set's items: held-out only when the policy was fitted on
other items. Costs say where they come from (the file's, or the catalog's prices of a date).

>>> from core.routing.policies import SingleModel
>>> r = run_gate(es, SingleModel("small"), "small", Thresholds(min_quality=0.6))
>>> r.passed, r.line()
(False, 'check failed: quality 0.500 is below the floor 0.600 (95% 0.150-0.850, 4 scored items)')
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.evaluation.stats import Comparison, Estimate, paired_drop, score_estimate
from core.evaluation.versions import items_digest, short
from core.exports import json_safe
from core.pricing.catalog import price_snapshot_date
from core.routing.policies import Outcome, Policy

QUALITY, COST, REGRESSION = "quality floor", "cost ceiling", "paired regression vs baseline"
CHECKS = (QUALITY, COST, REGRESSION)
ESTIMATE_NOTE = ("measured on the eval set's items: held-out only when the policy was fitted on "
                 "other items")


@dataclass(frozen=True)
class Thresholds:
    """What ``check`` was asked to hold; ``None`` skips that check."""

    min_quality: float | None = None
    max_cost: float | None = None  # USD per item
    max_drop: float = 0.0  # quality points the policy may lose against the baseline
    alpha: float = 0.05  # one-sided level of the paired test

    def validate(self) -> Thresholds:
        """Refuse values that cannot be meant, naming the option (InputError).

        >>> Thresholds(min_quality=80).validate()
        Traceback (most recent call last):
        core.errors.InputError: --min-quality must be a score between 0 and 1, got 80
        """
        for flag, value, low, high, what in (
                ("--min-quality", self.min_quality, 0.0, 1.0, "a score between 0 and 1"),
                ("--max-cost", self.max_cost, 0.0, math.inf, "a non-negative USD amount per item"),
                ("--max-drop", self.max_drop, 0.0, 1.0, "a score difference between 0 and 1"),
                ("--alpha", self.alpha, 1e-12, 1.0 - 1e-12, "a level between 0 and 1")):
            if value is not None and not (low <= value <= high):
                raise InputError(f"{flag} must be {what}, got {value:g}")
        return self


@dataclass(frozen=True)
class Check:
    """One check's verdict and its one-line message (the failure's reason when it failed)."""

    name: str
    status: str  # passed | failed | skipped
    message: str


@dataclass(frozen=True)
class Baseline:
    """An earlier run's per-item results on the same items (read from its JSON file)."""

    label: str  # the file's name, for messages
    evalset: str
    items_digest: str
    item_ids: np.ndarray  # str
    score: np.ndarray  # float, NaN = not scored
    cost: np.ndarray  # float, NaN = unknown
    policy: str
    written_at: str | None = None


@dataclass(frozen=True, eq=False)
class GateResult:
    evalset: str
    items_digest: str
    policy: str
    thresholds: Thresholds
    quality: Estimate
    cost_per_item: float
    cost_unknown: int
    prices: str
    checks: tuple[Check, ...]
    outcome: Outcome = field(repr=False)
    item_ids: np.ndarray = field(repr=False)
    comparison: Comparison | None = None
    baseline: str | None = None

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "failed"]

    def line(self) -> str:
        """The one line ``check`` prints: every failure's reason, or the passing figures."""
        if self.failures:
            return "check failed: " + "; ".join(c.message for c in self.failures)
        done = [c.message for c in self.checks if c.status == "passed"]
        return (f"check passed: {self.policy} on {self.evalset} ({self.n_items:,} items): "
                + "; ".join(done))

    def to_dict(self) -> dict:
        """What ``check --json`` prints and the alert carries."""
        return json_safe({
            "passed": self.passed, "evalset": self.evalset, "items_digest": self.items_digest,
            "items": self.n_items, "policy": self.policy, "estimate": ESTIMATE_NOTE,
            "quality": self.quality.to_dict(), "cost_per_item": self.cost_per_item,
            "cost_unknown_items": self.cost_unknown, "prices": self.prices,
            "thresholds": {"min_quality": self.thresholds.min_quality,
                           "max_cost": self.thresholds.max_cost,
                           "max_drop": self.thresholds.max_drop, "alpha": self.thresholds.alpha},
            "baseline": self.baseline,
            "comparison": self.comparison.to_dict() if self.comparison is not None else None,
            "checks": [{"name": c.name, "status": c.status, "message": c.message}
                       for c in self.checks],
            "reason": "; ".join(c.message for c in self.failures) or None,
        })


def run_gate(evalset: EvalSet, policy: Policy, policy_label: str, thresholds: Thresholds,
             baseline: Baseline | None = None) -> GateResult:
    """Evaluate ``policy`` on ``evalset`` and run the three checks (vectorised over items)."""
    thresholds.validate()
    digest = items_digest(evalset)
    if baseline is not None and baseline.items_digest != digest:
        raise different_items(baseline, evalset.name, evalset.n_items, digest)
    out = policy.evaluate(evalset)
    quality = score_estimate(out.score)
    known = ~np.isnan(out.cost)
    cost = float(out.cost[known].mean()) if known.any() else math.nan
    prices = price_note(evalset, policy)
    ids = evalset.items["item_id"].astype(str).to_numpy()
    comparison = None
    checks = [quality_check(quality, thresholds.min_quality),
              cost_check(cost, int((~known).sum()), prices, thresholds.max_cost)]
    if baseline is None:
        checks.append(Check(REGRESSION, "skipped", "no --baseline given"))
    else:
        base = baseline_scores(baseline, ids)
        comparison = paired_drop(out.score, base, thresholds.alpha)
        checks.append(regression_check(comparison, baseline, thresholds))
    return GateResult(evalset.name, digest, policy_label, thresholds, quality, cost,
                      int((~known).sum()), prices, tuple(checks), out, ids, comparison,
                      baseline.label if baseline is not None else None)


def different_items(baseline: Baseline, name: str, n_items: int, digest: str) -> InputError:
    return InputError(
        f"{baseline.label}: the baseline was written for other items ({baseline.evalset}, "
        f"{len(baseline.item_ids):,} items, items sha256 {short(baseline.items_digest)}), not for "
        f"{name} ({n_items:,} items, items sha256 {short(digest)}); a paired comparison needs the "
        "same items: write a baseline for this set with --write-baseline")


def baseline_scores(baseline: Baseline, item_ids: np.ndarray) -> np.ndarray:
    """The baseline's scores in the eval set's item order (same items: the hashes matched)."""
    order = {item: i for i, item in enumerate(baseline.item_ids)}
    rows = np.array([order[i] for i in item_ids], dtype=np.int64)
    return baseline.score[rows]


def price_note(evalset: EvalSet, policy: Policy) -> str:
    """Where the policy's costs come from: the file's, the catalog's prices of a date, or none."""
    sources = {evalset.cost_source.get(m, "unknown") for m in policy.models_called()}
    parts = []
    if "reported" in sources:
        parts.append("costs from the file")
    if "catalog" in sources:
        parts.append(f"catalog prices of {price_snapshot_date()}")
    return ", ".join(parts) or "costs unknown"


def quality_check(quality: Estimate, floor: float | None) -> Check:
    if floor is None:
        return Check(QUALITY, "skipped", "no --min-quality given")
    if quality.n == 0:
        return Check(QUALITY, "failed", f"no item is scored, so the quality floor {floor:.3f} "
                                        "cannot be checked")
    interval = f"95% {quality.low:.3f}-{quality.high:.3f}, {quality.n:,} scored items"
    if quality.value >= floor:
        return Check(QUALITY, "passed", f"quality {quality.value:.3f} >= floor {floor:.3f} ({interval})")
    return Check(QUALITY, "failed",
                 f"quality {quality.value:.3f} is below the floor {floor:.3f} ({interval})")


def cost_check(cost: float, unknown: int, prices: str, ceiling: float | None) -> Check:
    if ceiling is None:
        return Check(COST, "skipped", "no --max-cost given")
    if math.isnan(cost):
        return Check(COST, "failed", f"no item has a known cost, so the ceiling ${ceiling:.6f}/item "
                                     "cannot be checked (add cost_usd, or token counts of models "
                                     "in the price catalog)")
    note = prices + (f"; {unknown:,} items of unknown cost left out" if unknown else "")
    if cost <= ceiling:
        return Check(COST, "passed", f"cost ${cost:.6f}/item <= ceiling ${ceiling:.6f} ({note})")
    return Check(COST, "failed", f"cost ${cost:.6f}/item is above the ceiling ${ceiling:.6f} ({note})")


def regression_check(c: Comparison, baseline: Baseline, t: Thresholds) -> Check:
    if c.n_control == 0:
        return Check(REGRESSION, "failed", f"no item is scored both now and in {baseline.label}, "
                                           "so a regression cannot be ruled out")
    figures = (f"{c.control:.3f} -> {c.candidate:.3f} on the same {c.n_control:,} items, change "
               f"{c.diff:+.3f} (95% {c.low:+.3f} to {c.high:+.3f}; {c.test} p = {c.p_value:.3g})")
    if c.diff < -t.max_drop and c.p_value < t.alpha:
        return Check(REGRESSION, "failed",
                     f"quality regressed against {baseline.label}: {figures}, beyond the allowed "
                     f"drop {t.max_drop:.3f} at alpha {t.alpha:g}")
    return Check(REGRESSION, "passed", f"vs {baseline.label}: {figures}")

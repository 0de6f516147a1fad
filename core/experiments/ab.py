"""A/B comparisons: per-arm metrics, differences, sample size, guardrails, verdict, rollout.

The analysis takes one row per item served, whatever produced it: a replay on a recorded eval
set (:func:`replay_frame`) or live runs (any frame with the :data:`ARM_COLUMNS`), so replay and
live share the statistics::

    >>> from core.routing.policies import SingleModel
    >>> big, small = SingleModel("big").evaluate(es), SingleModel("small").evaluate(es)
    >>> analyze(replay_frame(es, big, small, salt="exp-1"), tolerance=0.02).verdict.decision
    'inconclusive'

Arms are ``control`` (A, production) and ``candidate`` (B); every difference is
``candidate - control``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation import stats
from core.experiments.assignment import assign, rollout_buckets
from core.experiments.guardrails import GuardrailCheck, Guardrails, Verdict, check_guardrails, decide
from core.exports import frame_records
from core.routing.policies.base import Outcome

ARM_COLUMNS = ("unit", "arm", "item_id", "task", "score", "cost", "latency_ms", "error")
ARMS = ("control", "candidate")
STAGES = (5, 25, 50, 100)
MIN_PER_ARM = 30  # below this, no interval deserves trust: say so instead of deciding


@dataclass
class ArmMetrics:
    n_items: int
    n_units: int
    quality: stats.Estimate
    cost_per_item: stats.Estimate
    error_rate: stats.Estimate
    latency: dict[str, float]  # p50 / p95 / p99 in ms (NaN when none recorded)

    def to_dict(self) -> dict:
        return {"n_items": self.n_items, "n_units": self.n_units, "quality": self.quality.to_dict(),
                "cost_per_item": self.cost_per_item.to_dict(), "error_rate": self.error_rate.to_dict(),
                "latency": {k: (None if math.isnan(v) else v) for k, v in self.latency.items()}}


@dataclass
class SampleSize:
    mde: float
    alpha: float
    power: float
    required_control: int
    required_candidate: int
    have_control: int
    have_candidate: int

    @property
    def enough(self) -> bool:
        return self.have_control >= self.required_control and self.have_candidate >= self.required_candidate

    def to_dict(self) -> dict:
        return {"mde": self.mde, "alpha": self.alpha, "power": self.power,
                "required_control": self.required_control, "required_candidate": self.required_candidate,
                "have_control": self.have_control, "have_candidate": self.have_candidate,
                "enough": self.enough}


@dataclass
class ABResult:
    arms: dict[str, ArmMetrics]
    differences: dict[str, stats.Comparison]
    guardrails: list[GuardrailCheck]
    verdict: Verdict
    sample_size: SampleSize | None
    warnings: list[str]
    per_task: pd.DataFrame
    tolerance: float
    rollout: list[dict] = field(default_factory=list)
    decided_by: dict | None = None  # which stage decided the verdict, and why (see analyze)

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict.to_dict(),
            "tolerance": self.tolerance,
            "arms": {k: v.to_dict() for k, v in self.arms.items()},
            "differences": {k: v.to_dict() for k, v in self.differences.items()},
            "guardrails": [g.to_dict() for g in self.guardrails],
            "sample_size": self.sample_size.to_dict() if self.sample_size else None,
            "warnings": list(self.warnings),
            "per_task": frame_records(self.per_task),
            "rollout": self.rollout,
            "decided_by": self.decided_by,
        }


# -- building the per-item frame ---------------------------------------------------------------
def replay_frame(evalset, control: Outcome, candidate: Outcome, salt: str, split: float = 0.5,
                 units=None) -> pd.DataFrame:
    """Each unit's items under its arm's policy (both outcomes computed in full, then selected)."""
    if units is None:
        units = evalset.items["item_id"].astype(str).to_numpy(dtype=object)
    is_b = assign(units, salt, split)
    return pd.DataFrame({
        "unit": units,
        "arm": np.where(is_b, "candidate", "control"),
        "item_id": evalset.items["item_id"].astype(str).to_numpy(dtype=object),
        "task": evalset.tasks,
        "score": np.where(is_b, candidate.score, control.score),
        "cost": np.where(is_b, candidate.cost, control.cost),
        "latency_ms": np.where(is_b, candidate.latency_ms, control.latency_ms),
        # An item without a kept answer is an error (the policy failed to answer it).
        "error": np.where(is_b, candidate.kept < 0, control.kept < 0),
    })


def check_frame(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ARM_COLUMNS if c not in frame]
    if missing:
        raise InputError(f"A/B data needs columns {', '.join(ARM_COLUMNS)}; missing {', '.join(missing)}")
    bad = sorted(set(map(str, frame["arm"].unique())) - set(ARMS))
    if bad:
        raise InputError(f"Arm must be 'control' or 'candidate'; got {', '.join(bad[:5])}")
    return frame


# -- analysis ----------------------------------------------------------------------------------
def arm_metrics(part: pd.DataFrame, alpha: float = 0.05) -> ArmMetrics:
    lat = part["latency_ms"].to_numpy(dtype=float)
    lat = lat[~np.isnan(lat)]
    err = part["error"].to_numpy(dtype=bool)
    return ArmMetrics(
        n_items=len(part), n_units=int(part["unit"].nunique()),
        quality=stats.score_estimate(part["score"].to_numpy(dtype=float), alpha),
        cost_per_item=stats.mean_estimate(part["cost"].to_numpy(dtype=float), alpha),
        error_rate=stats.proportion_estimate(int(err.sum()), len(err), alpha),
        latency={f"p{q}": (float(np.percentile(lat, q)) if len(lat) else float("nan"))
                 for q in (50, 95, 99)},
    )


def per_task(frame: pd.DataFrame) -> pd.DataFrame:
    """Quality and cost per task and arm, with the quality difference (candidate - control)."""
    g = frame.groupby(["task", "arm"], sort=True).agg(
        n=("score", "size"), quality=("score", "mean"), cost_per_item=("cost", "mean"))
    wide = g.unstack("arm")
    out = pd.DataFrame(index=wide.index)
    for arm in ARMS:
        for col in ("n", "quality", "cost_per_item"):
            out[f"{col}_{arm}"] = wide[(col, arm)] if (col, arm) in wide.columns else np.nan
    out["n_control"] = out["n_control"].fillna(0).astype(int)
    out["n_candidate"] = out["n_candidate"].fillna(0).astype(int)
    out["quality_diff"] = out["quality_candidate"] - out["quality_control"]
    return out.reset_index()


def sample_size(frame: pd.DataFrame, mde: float, alpha: float = 0.05, power: float = 0.8) -> SampleSize | None:
    """Items per arm needed to detect a quality change of ``mde`` at the control's quality."""
    a = frame.loc[frame["arm"] == "control", "score"].to_numpy(dtype=float)
    b = frame.loc[frame["arm"] == "candidate", "score"].to_numpy(dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0 or not mde > 0:
        return None
    ratio = len(b) / len(a)
    if stats.is_binary(a, b):
        n_a = stats.sample_size_proportions(float(a.mean()), mde, alpha, power, ratio)
    else:
        sd = float(np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)) if min(len(a), len(b)) > 1 else 0.0
        if not sd > 0:
            return None
        n_a = stats.sample_size_means(sd, mde, alpha, power, ratio)
    return SampleSize(mde, alpha, power, n_a, int(math.ceil(n_a * ratio)), len(a), len(b))


def analyze(frame: pd.DataFrame, tolerance: float = 0.02, guardrails: Guardrails | None = None,
            alpha: float = 0.05, power: float = 0.8, mde: float | None = None, salt: str = "",
            stages: tuple[int, ...] = STAGES, seed: int = 0, n_resamples: int | None = None) -> ABResult:
    """Everything an A/B decision needs, from one row per item served (see :data:`ARM_COLUMNS`).

    ``n_resamples`` (p95 bootstrap) defaults to 1000, fewer on very large arms (at least 200) so
    the page stays interactive: percentile resampling costs resamples × items.

    ``stages`` (percent of units) adds the staged-rollout table: stage k% sees the first k% of
    units by the rollout hash of ``salt``, with their arms as assigned.
    """
    check_frame(frame)
    guardrails = guardrails or Guardrails()
    if n_resamples is None:
        n_resamples = int(min(1000, max(200, 2e7 // max(len(frame), 1))))
    result = _analyze_once(frame, tolerance, guardrails, alpha, power, mde, seed, n_resamples)
    if stages:
        result.rollout = rollout(frame, tolerance, guardrails, alpha, power, mde, salt, stages, seed,
                                 n_resamples)
        apply_rollout(result)
    return result


DECISION_RULE = ("One rule decides: the staged rollout walks 5% -> 25% -> 50% -> 100% of units, "
                 "waits (hold) where a stage is inconclusive or too small, and stops at the first "
                 "stage where a guardrail fires (rollback; a stage's quality drop counts only when "
                 "its 95% interval shows it) or the candidate is worse (stop). The "
                 "verdict is where the rollout ends, and the guardrail table shows the stage that "
                 "decided; the 100% stage is the whole replay.")


def apply_rollout(result: ABResult) -> None:
    """Make the headline and the guardrail table those of the stage that decides (the first
    that rolls back or stops; else the 100% stage), so verdict, rollout and table agree."""
    halted = next((s for s in result.rollout if s["reached"] and s["action"] in ("rollback", "stop")), None)
    last = result.rollout[-1]
    if halted is None or halted is last:
        result.decided_by = {"stage_pct": last["stage_pct"], "rule": DECISION_RULE,
                             "explanation": f"The {last['stage_pct']}% stage (the whole replay) "
                                            "decides: no earlier stage stops the rollout."}
        return
    result.verdict = Verdict("no-go", f"The staged rollout stops at {halted['stage_pct']}% "
                                      f"({halted['action']}): {halted['reason']}")
    result.guardrails = [GuardrailCheck(**g) for g in halted["guardrails"]]
    result.decided_by = {"stage_pct": halted["stage_pct"], "rule": DECISION_RULE,
                         "explanation": f"The {halted['stage_pct']}% stage decides: the rollout "
                                        f"stops there ({halted['action']}), so later stages and "
                                        "the whole replay are never reached."}


def _analyze_once(frame, tolerance, guardrails, alpha, power, mde, seed, n_resamples,
                  detail: bool = True) -> ABResult:
    """One analysis; ``detail=False`` (rollout stages) skips the p95 bootstrap and the per-task
    table, which no stage decision uses (the latency guardrail reads the point p95)."""
    a = frame[frame["arm"] == "control"]
    b = frame[frame["arm"] == "candidate"]
    arms = {"control": arm_metrics(a, alpha), "candidate": arm_metrics(b, alpha)}
    sa, sb = a["score"].to_numpy(dtype=float), b["score"].to_numpy(dtype=float)
    ca, cb = a["cost"].to_numpy(dtype=float), b["cost"].to_numpy(dtype=float)
    la, lb = a["latency_ms"].to_numpy(dtype=float), b["latency_ms"].to_numpy(dtype=float)
    ea, eb = a["error"].to_numpy(dtype=bool), b["error"].to_numpy(dtype=bool)
    diffs = {
        "quality": stats.compare_scores(sb, sa, alpha, "quality"),
        "cost_per_item": stats.welch(cb, ca, alpha, "cost_per_item"),
        "latency_mean": stats.welch(lb, la, alpha, "latency_mean"),
        "latency_p95": (stats.bootstrap_percentile_diff(lb, la, 95, alpha, n_resamples, seed, "latency_p95")
                        if detail else _point_p95(arms)),
        "error_rate": stats.diff_proportions(int(eb.sum()), len(eb), int(ea.sum()), len(ea), alpha,
                                             "error_rate"),
    }
    checks = check_guardrails(
        guardrails,
        error_rate=(arms["control"].error_rate.value, arms["candidate"].error_rate.value),
        p95_ms=(arms["control"].latency["p95"], arms["candidate"].latency["p95"]),
        quality=(arms["control"].quality.value, arms["candidate"].quality.value),
        tolerance=tolerance)
    size = sample_size(frame, mde if mde is not None else tolerance, alpha, power)
    warnings = []
    n_min = min(len(a), len(b))
    if n_min < MIN_PER_ARM:
        warnings.append(f"Too little data to decide: the smaller arm has {n_min} item(s); "
                        f"at least {MIN_PER_ARM} per arm are needed for any interval to mean much.")
    if size is not None and not size.enough:
        warnings.append(
            f"Too small to decide a {size.mde:g} difference: detecting it with {size.power:.0%} power "
            f"at alpha {size.alpha:g} needs {size.required_control:,} control and "
            f"{size.required_candidate:,} candidate items; there are {size.have_control:,} and "
            f"{size.have_candidate:,}.")
    items_per_unit = len(frame) / max(frame["unit"].nunique(), 1)
    if items_per_unit > 1.05:
        warnings.append(f"Units average {items_per_unit:.1f} items each; items of one unit are "
                        "correlated, so the intervals (which treat items as independent) are too narrow.")
    if np.isnan(la).all() or np.isnan(lb).all():
        warnings.append("No latency recorded in an arm: latency comparisons and the latency "
                        "guardrail are not evaluated.")
    verdict = decide(diffs["quality"], diffs["cost_per_item"], checks, tolerance,
                     enough_data=size.enough if size else False)
    if n_min < MIN_PER_ARM and verdict.decision == "go":
        verdict = Verdict("inconclusive", f"Too little data (smaller arm: {n_min} items). " + verdict.reason)
    return ABResult(arms, diffs, checks, verdict, size, warnings,
                    per_task(frame) if detail else pd.DataFrame(), tolerance)


def _point_p95(arms: dict[str, ArmMetrics]) -> stats.Comparison:
    a, b = arms["control"], arms["candidate"]
    pa, pb = a.latency["p95"], b.latency["p95"]
    nan = float("nan")
    return stats.Comparison("latency_p95", pa, pb, pb - pa, nan, nan, nan, "point estimate",
                            a.n_items, b.n_items)


def rollout(frame: pd.DataFrame, tolerance: float, guardrails: Guardrails, alpha: float = 0.05,
            power: float = 0.8, mde: float | None = None, salt: str = "",
            stages: tuple[int, ...] = STAGES, seed: int = 0, n_resamples: int = 1000) -> list[dict]:
    """The verdict at each stage, on the units that stage would have seen.

    The rollout stops at the first stage where a guardrail fires (``rollback``) or the verdict is
    no-go (``stop``); an inconclusive stage ``hold``s (gather more data before widening); later
    stages are marked not reached.
    """
    buckets = rollout_buckets(frame["unit"].to_numpy(dtype=object), salt)
    rows, halted = [], None
    for pct in stages:
        part = frame[buckets < pct / 100.0]
        res = _analyze_once(part, tolerance, guardrails, alpha, power, mde, seed, n_resamples,
                            detail=False)
        q = res.differences["quality"]
        if not q.high < -tolerance:  # a stage's quality drop needs its 95% CI, not a point
            res.guardrails = [GuardrailCheck(g.name, g.observed, g.threshold, False, g.evaluated,
                                             g.rule + "; not shown by the stage's 95% CI")
                              if g.name == "quality drop" and g.fired else g for g in res.guardrails]
            res.verdict = decide(q, res.differences["cost_per_item"], res.guardrails, tolerance,
                                 enough_data=res.sample_size.enough if res.sample_size else False)
        fired = [g.name for g in res.guardrails if g.fired]
        small = min(res.arms["control"].n_items, res.arms["candidate"].n_items) < MIN_PER_ARM
        if small:  # too few units for any rule to mean much: a live rollout would wait here
            fired = []
            res.verdict = Verdict("inconclusive", f"Too few units at this stage (under {MIN_PER_ARM} "
                                                  "per arm): hold and gather more traffic.")
            res.guardrails = [GuardrailCheck(g.name, g.observed, g.threshold, False, False,
                                             f"not evaluated: under {MIN_PER_ARM} per arm")
                              for g in res.guardrails]
        if fired:
            action = "rollback"
        elif res.verdict.decision == "go":
            action = "proceed"
        elif res.verdict.decision == "no-go":
            action = "stop"
        else:
            action = "hold"
        rows.append({
            "stage_pct": pct, "reached": halted is None, "units": int(part["unit"].nunique()),
            "n_control": res.arms["control"].n_items, "n_candidate": res.arms["candidate"].n_items,
            "quality_diff": _num(res.differences["quality"].diff),
            "quality_low": _num(res.differences["quality"].low),
            "quality_high": _num(res.differences["quality"].high),
            "cost_diff": _num(res.differences["cost_per_item"].diff),
            "verdict": res.verdict.decision, "trigger": ", ".join(fired) or None, "action": action,
            "reason": res.verdict.reason, "guardrails": [g.to_dict() for g in res.guardrails],
        })
        if halted is None and action in ("rollback", "stop"):
            halted = pct
    return rows


def _num(x: float):
    return None if x is None or math.isnan(x) else float(x)

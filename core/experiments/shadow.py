"""Shadow comparison: production and a candidate answer the same items; only production serves.

Because both sides see every item, the comparison is paired (McNemar for 0/1 quality, paired t
for cost, latency and graded scores) and needs far fewer items than an A/B split::

    >>> res = compare(es, SingleModel("big").evaluate(es), cascade.evaluate(es), volume=100_000)  # doctest: +SKIP
    >>> res.agreement_rate, res.quality.diff, res.projection["monthly_savings"]                    # doctest: +SKIP
    (0.94, -0.004, 312.5)

A replay on an eval set makes no call: the candidate's would-be calls are written to the ledger
as a simulation (``source='simulation'``, see :func:`record_shadow_calls`), so their spend shows
up apart from production and is never billed (budgets count scope ``billable``: everything but
simulations). Real shadow calls made beside production (a live shadow on a gateway) are
``source='shadow'``: real, billable dollars kept apart from production.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from core.evaluation import stats
from core.evaluation.evalset import EvalSet
from core.experiments.guardrails import GuardrailCheck, Guardrails, Verdict, check_guardrails, decide
from core.exports import frame_records
from core.routing.policies.base import Outcome


@dataclass
class ShadowResult:
    n_items: int
    n_compared: int  # items where both sides gave a comparable answer
    n_agree: int
    quality: stats.Comparison  # paired, candidate - production, on items scored on both sides
    cost: stats.Comparison
    latency: stats.Comparison
    latency_p95: tuple[float, float]  # production, candidate
    disagreements: pd.DataFrame
    per_task: pd.DataFrame
    projection: dict
    guardrails: list[GuardrailCheck]
    verdict: Verdict  # would the candidate be safe to switch to (same rules as an A/B)
    tolerance: float

    @property
    def agreement_rate(self) -> float:
        return self.n_agree / self.n_compared if self.n_compared else float("nan")

    @property
    def agreement(self) -> stats.Estimate:
        return stats.proportion_estimate(self.n_agree, self.n_compared)

    def to_dict(self, max_disagreements: int = 200) -> dict:

        return {
            "n_items": self.n_items, "n_compared": self.n_compared, "n_agree": self.n_agree,
            "agreement": self.agreement.to_dict(),
            "quality": self.quality.to_dict(), "cost": self.cost.to_dict(),
            "latency": self.latency.to_dict(),
            "latency_p95": [None if math.isnan(v) else v for v in self.latency_p95],
            "disagreements": frame_records(self.disagreements.head(max_disagreements)),
            "n_disagreements": len(self.disagreements),
            "per_task": frame_records(self.per_task),
            "projection": self.projection,
            "guardrails": [g.to_dict() for g in self.guardrails],
            "verdict": self.verdict.to_dict(), "tolerance": self.tolerance,
        }


def _kept_answers(keys: np.ndarray, kept: np.ndarray) -> np.ndarray:
    rows = np.arange(len(kept))
    out = keys[rows, np.clip(kept, 0, None)].astype(object)
    out[kept < 0] = None
    return out


def _text(values: np.ndarray, kept: np.ndarray, limit: int = 200) -> np.ndarray:
    rows = np.arange(len(kept))
    raw = pd.Series(values[rows, np.clip(kept, 0, None)], dtype=object)
    raw[kept < 0] = None
    return raw.astype("string").str.slice(0, limit).astype(object).where(raw.notna(), None).to_numpy()


def compare(evalset: EvalSet, production: Outcome, candidate: Outcome, volume: float | None = None,
            alpha: float = 0.05, tolerance: float = 0.02,
            guardrails: Guardrails | None = None) -> ShadowResult:
    """Agreement, paired deltas, side-by-side disagreements and projected savings at ``volume``
    items per month; the verdict uses the A/B rules (:func:`core.experiments.guardrails.decide`) on the
    paired differences."""
    keys = evalset.answer_keys
    ans_p = _kept_answers(keys, production.kept)
    ans_c = _kept_answers(keys, candidate.kept)
    same_model = (production.kept == candidate.kept) & (production.kept >= 0)
    has_both = ~pd.isna(ans_p) & ~pd.isna(ans_c)
    comparable = has_both | same_model
    agree = same_model | (has_both & (ans_p == ans_c))
    names = np.array(evalset.models + ("(none)",), dtype=object)
    disagree = comparable & ~agree
    items = evalset.items
    side = pd.DataFrame({
        "item_id": items["item_id"].astype(str).to_numpy(dtype=object),
        "task": evalset.tasks,
        "input": (items["input"].astype("string").str.slice(0, 160).astype(object).to_numpy()
                  if "input" in items else np.full(len(items), None, dtype=object)),
        "label": items["label"].to_numpy(dtype=object) if "label" in items else None,
        "production_model": names[production.kept],
        "production_answer": _text(evalset.prediction if not pd.isna(evalset.prediction).all()
                                   else evalset.output, production.kept),
        "production_score": production.score,
        "candidate_model": names[candidate.kept],
        "candidate_answer": _text(evalset.prediction if not pd.isna(evalset.prediction).all()
                                  else evalset.output, candidate.kept),
        "candidate_score": candidate.score,
    })
    disagreements = side[disagree].reset_index(drop=True)
    quality = stats.paired_scores(candidate.score, production.score, alpha, "quality")
    cost = stats.paired_means(candidate.cost, production.cost, alpha, "cost_per_item")
    latency = stats.paired_means(candidate.latency_ms, production.latency_ms, alpha, "latency_mean")
    p95 = tuple(float(np.percentile(x[~np.isnan(x)], 95)) if (~np.isnan(x)).any() else float("nan")
                for x in (production.latency_ms, candidate.latency_ms))
    frame = pd.DataFrame({"task": evalset.tasks, "agree": agree.astype(float),
                          "comparable": comparable, "q_p": production.score, "q_c": candidate.score,
                          "c_p": production.cost, "c_c": candidate.cost})
    frame.loc[~comparable, "agree"] = np.nan
    per_task = frame.groupby("task", sort=True).agg(
        n=("task", "size"), agreement=("agree", "mean"), quality_production=("q_p", "mean"),
        quality_candidate=("q_c", "mean"), cost_production=("c_p", "mean"),
        cost_candidate=("c_c", "mean")).reset_index()
    per_task["quality_diff"] = per_task["quality_candidate"] - per_task["quality_production"]
    checks = check_guardrails(
        guardrails or Guardrails(),
        error_rate=(float((production.kept < 0).mean()), float((candidate.kept < 0).mean())),
        p95_ms=p95, quality=(quality.control, quality.candidate), tolerance=tolerance)
    verdict = decide(quality, cost, checks, tolerance)
    return ShadowResult(
        n_items=evalset.n_items, n_compared=int(comparable.sum()), n_agree=int(agree.sum()),
        quality=quality, cost=cost, latency=latency, latency_p95=p95,
        disagreements=disagreements, per_task=per_task,
        projection=project_savings(cost, volume) if volume else {},
        guardrails=checks, verdict=verdict, tolerance=tolerance)


def project_savings(cost: stats.Comparison, volume: float) -> dict:
    """Monthly spend of each side at ``volume`` items/month and the saving, with its interval.

    ``cost`` is the paired per-item difference (candidate - production).
    """
    from core.routing.projections import DAYS_PER_MONTH, project_spend

    per_day = float(volume) / DAYS_PER_MONTH

    def m(x):
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return None
        return project_spend(float(x), per_day)["month"]

    return {
        "volume_per_month": float(volume),
        "monthly_cost_production": m(cost.control),
        "monthly_cost_candidate": m(cost.candidate),
        "monthly_savings": m(-cost.diff),
        "monthly_savings_low": m(-cost.high),
        "monthly_savings_high": m(-cost.low),
        "yearly_savings": None if m(-cost.diff) is None else m(-cost.diff) * 12,
        "savings_share": (float(-cost.diff / cost.control)
                          if cost.control and not math.isnan(cost.control) else None),
    }


def shadow_calls(evalset: EvalSet, candidate: Outcome, experiment: str,
                 ts: datetime | None = None) -> pd.DataFrame:
    """Ledger rows for every call the candidate would have made (one per item × model tried),
    simulated from the eval set's per-call cost and latency: ``source='simulation'``, never
    billed. Call ids are stable: recording twice adds nothing."""
    rows, cols = np.nonzero(candidate.tried)
    item_ids = evalset.items["item_id"].astype(str).to_numpy(dtype=object)[rows]
    models = np.array(evalset.models, dtype=object)[cols]
    ts = ts or datetime.now(UTC).replace(tzinfo=None)

    def tokens(a):
        return np.nan_to_num(a[rows, cols], nan=0.0).astype(np.int64)

    frame = pd.DataFrame({
        "call_id": "shadow:" + experiment + ":" + evalset.name + ":" + pd.Series(item_ids, dtype=str)
                   + ":" + pd.Series(models, dtype=str),
        "ts": pd.Timestamp(ts),
        "model": models,
        "task": evalset.tasks[rows],
        "input_tokens": tokens(evalset.input_tokens),
        "cached_input_tokens": tokens(evalset.cached_input_tokens),
        "output_tokens": tokens(evalset.output_tokens),
        "cost_usd": evalset.cost[rows, cols],
        "latency_ms": evalset.latency_ms[rows, cols],
        "status": "ok",
        "source": "simulation",  # computed from an eval set: no call was made, nothing billed
        "experiment": experiment,
        "variant": "candidate",
        "request_id": item_ids,
    })
    return frame


def record_shadow_calls(ws, evalset: EvalSet, candidate: Outcome, experiment: str) -> int:
    """Write the candidate's simulated calls to the ledger (``source='simulation'``, never billed);
    returns how many rows were added."""
    from core.spend.ledger import record_calls

    return record_calls(ws, shadow_calls(evalset, candidate, experiment))

"""Policy files: what ``python -m core fit`` writes and ``python -m core score`` reads.

A file holds the policy (``policy``: its ``to_dict()``), the goal, the held-out estimate with its
95% interval (``validation``), whether the goal is met on it, the baseline model, the signals'
out-of-fold AUCs and when and on what it was fitted. ``score`` checks a file's policy on another
eval set and reports the goal's verdict there beside the baseline model, the random-mix line and
the oracle.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.exports import json_safe
from core.pricing.catalog import price_snapshot_date
from core.routing.optimize.goals import parse_goal, quality_target, satisfied
from core.routing.optimize.search import (
    Recommendation,
    baseline_model,
    check_policy_models,
    figures,
    oracle_figures,
    random_mix_line,
    recommend,
)
from core.routing.policies import Policy, SingleModel, policy_from_dict

POLICY_FILE_FORMAT = "tradeoff-policy/1"


def fit_goal(train: EvalSet, goal: str, test: EvalSet | None = None, folds: int = 5,
             seed: int = 0) -> dict[str, Any]:
    """``python -m core fit``: the policy file (JSON-safe dict) for ``goal`` fitted on ``train``.

    >>> fit_goal(train, "match:big")["validation"]["quality"]         # doctest: +SKIP
    0.91
    """
    rec = recommend(train, goal, test=test, folds=folds, seed=seed)
    return policy_file_dict(rec, train)


def policy_file_dict(rec: Recommendation, train: EvalSet) -> dict[str, Any]:
    """What a saved or downloaded policy file holds: the policy and how it was validated."""
    return json_safe({
        "format": POLICY_FILE_FORMAT,
        "policy": rec.policy.to_dict(),
        "goal": str(rec.goal),
        "family": rec.family,
        "validation": rec.held_out,
        "goal_met_on_held_out": rec.satisfied,
        "target_quality": rec.target_quality,
        "best_achievable": rec.best_achievable,
        "baseline": rec.baseline,
        "cross_validation": rec.cv,
        "in_sample": rec.in_sample,
        "signals": rec.signals.to_dict("records"),
        "candidates": rec.candidates.head(40).to_dict("records"),
        "fitted_on": {"evalset": train.name, "items": train.n_items, "models": list(train.models),
                      "fitted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")},
        "price_snapshot_date": price_snapshot_date(),
        "notes": rec.notes,
    })


def fit_estimate_line(fitted: dict[str, Any]) -> str:
    """One line: the plan's held-out estimate, its 95% interval, the baseline and the prices' date.

    >>> fit_estimate_line({"validation": {"quality": 0.9436, "quality_ci": [0.931, 0.956],
    ...     "cost_per_item": 0.002311, "source": "pooled 5-fold cross-validation"},
    ...     "baseline": {"model": "gpt-4", "quality": 0.9534, "cost_per_item": 0.005077,
    ...     "cost_ratio": 0.4552}, "price_snapshot_date": "2026-11-30"})
    'held-out estimate: quality 0.9436 [95% 0.9310-0.9560] at $0.002311/item, 45.5% of gpt-4 (0.9534 at $0.005077); pooled 5-fold cross-validation; prices of 2026-11-30'
    """
    v, b = fitted.get("validation") or {}, fitted.get("baseline") or {}
    ci = v.get("quality_ci")
    interval = f" [95% {ci[0]:.4f}-{ci[1]:.4f}]" if ci and None not in ci else ""
    ratio = b.get("cost_ratio")
    vs = f", {ratio:.1%} of {b.get('model')}" if isinstance(ratio, (int, float)) else f", vs {b.get('model')}"
    return (f"held-out estimate: quality {_f(v.get('quality'), 4)}{interval} at "
            f"${_f(v.get('cost_per_item'), 6)}/item{vs} ({_f(b.get('quality'), 4)} at "
            f"${_f(b.get('cost_per_item'), 6)}); {v.get('source', '')}; prices of "
            f"{fitted.get('price_snapshot_date', 'unknown date')}")


def fit_unmet_line(fitted: dict[str, Any]) -> str:
    """One line: the goal that cannot be met and the best point that can.

    >>> fit_unmet_line({"goal": "quality>=0.999", "target_quality": 0.999,
    ...                 "best_achievable": {"quality": 0.9534, "cost_per_item": 0.005077}})
    'goal quality>=0.999 cannot be met on held-out rows: best achievable quality 0.9534 at $0.005077/item'
    """
    best = fitted.get("best_achievable") or {}
    return (f"goal {fitted.get('goal')} cannot be met on held-out rows: best achievable quality "
            f"{_f(best.get('quality'), 4)} at ${_f(best.get('cost_per_item'), 6)}/item")


def _f(value, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and value == value else "unknown"


def load_policy_file(path: str | Path) -> tuple[Policy, dict[str, Any]]:
    """A policy from a file written by ``fit`` (or a bare ``to_dict()`` JSON), and the file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such policy file")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name}: not a JSON policy file ({exc.__class__.__name__}: "
                         f"{str(exc).splitlines()[0]})") from None
    spec = data.get("policy") if isinstance(data, dict) and isinstance(data.get("policy"), dict) else data
    return policy_from_dict(spec), data if isinstance(data, dict) else {}


def score_policy_file(path: str | Path, evalset: EvalSet) -> dict[str, Any]:
    """``python -m core score``: ``{"quality", "cost_per_item", "items", "calls", ...}`` and, when
    the file names a goal, its verdict on this eval set (``goal``), the baseline model on the same
    rows (``baseline``), the random-mix line (``random_mix``) and the oracle over every model.

    >>> score_policy_file("p.json", test)                            # doctest: +SKIP
    {'quality': 0.95, 'cost_per_item': 0.0019, 'items': 445, 'calls': {'gpt-4': 98, ...}, ...}
    """
    policy, data = load_policy_file(path)
    check_policy_models(policy, evalset, f"The policy in {Path(path).name}")
    out = policy.evaluate(evalset)
    fig = figures(out)
    result = {"quality": out.quality, "cost_per_item": out.cost_per_item, "items": out.n_items,
              "calls": out.calls(), "scored": out.scored, "escalation_rate": fig["escalation_rate"],
              "policy": policy.to_dict()["kind"]}
    goal = None
    if isinstance(data.get("goal"), str):
        try:
            goal = parse_goal(data["goal"], evalset.models)
        except InputError:
            goal = None
    base = baseline_model(goal, evalset) if goal is not None else baseline_model(parse_goal("quality>=0"), evalset)
    ref = SingleModel(base).evaluate(evalset)
    both = ~np.isnan(out.score) & ~np.isnan(ref.score)
    baseline = {"model": base, "quality": ref.quality, "cost_per_item": ref.cost_per_item,
                "rows_compared": int(both.sum()),
                "policy_quality_same_rows": float(np.mean(out.score[both])) if both.any() else None,
                "model_quality_same_rows": float(np.mean(ref.score[both])) if both.any() else None}
    if ref.cost_per_item and not math.isnan(ref.cost_per_item):
        baseline["cost_ratio"] = out.cost_per_item / ref.cost_per_item
        baseline["savings"] = 1.0 - baseline["cost_ratio"]
    result["baseline"] = baseline
    if goal is not None:
        share_model = goal.model if goal.kind == "share" else None
        share = (out.tried[:, evalset.model_index(share_model)].mean() if share_model else 0.0)
        target = quality_target(goal, evalset.score[:, evalset.model_index(goal.model)]
                                if goal.kind == "match" else None)
        met = bool(satisfied(goal, np.array([out.quality]), np.array([out.cost_per_item]),
                             np.array([share]), target)[0])
        result["goal"] = {"goal": str(goal), "description": goal.describe(), "met": met,
                          "target_quality": target, **({"share": float(share)} if share_model else {})}
    result["random_mix"] = random_mix_line(evalset, out.quality, out.cost_per_item)
    result["oracle"] = oracle_figures(evalset)
    estimate = data.get("validation") if isinstance(data.get("validation"), dict) else None
    if estimate and estimate.get("quality") is not None:
        result["estimate"] = {k: estimate.get(k) for k in ("quality", "quality_ci", "cost_per_item",
                                                           "cost_ci", "source")}
    return json_safe(result)

"""The honest optimizer: pick a policy and its thresholds for a goal, report it on unseen rows.

Every candidate family (single models, cascades over Pareto-front models with each usable
signal, the learned router, a per-task routing table) is fitted on training folds, its operating
point chosen for the goal on those folds, and scored on the fold it never saw (k-fold
cross-validation). The family whose *held-out* figures best meet the goal is refitted on all the
training rows and returned. With a ``test`` eval set, the returned policy is also scored there,
and that is the held-out figure reported.

>>> rec = recommend(train, "match:gpt-4-1106-preview", test=test)   # doctest: +SKIP
>>> rec.held_out["quality"], rec.held_out["cost_per_item"], rec.satisfied  # doctest: +SKIP
(0.952, 0.0021, False)

Honesty notes, also carried in ``Recommendation.notes``: the in-sample figures (policy fitted and
scored on the same rows) are optimistic and labeled as such; choosing the best of many families
by cross-validation is itself slightly optimistic, which a separate test file corrects.

The command line uses :func:`fit_goal` (``python -m core fit``) and :func:`score_policy_file`
(``python -m core score``).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.exports import json_safe
from core.pricing.catalog import price_snapshot_date
from core.routing.optimize.goals import ACCEPTED, Goal, parse_goal, pick, quality_target, satisfied
from core.routing.policies import Cascade, SingleModel, policy_from_dict
from core.routing.policies.base import Outcome, Policy

POLICY_FILE_FORMAT = "tradeoff-policy/1"
__all__ = ["recommend", "Recommendation", "fit_goal", "score_policy_file", "parse_goal",
           "ACCEPTED"]


def _nanmean(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.nanmean(a)) if len(a) and not np.isnan(a).all() else float("nan")


def figures(out: Outcome, share_model: str | None = None) -> dict[str, Any]:
    """Quality, cost per item, items, scored items, calls per model, escalation rate."""
    calls = {m: c for m, c in out.calls().items() if c}
    fig = {"quality": out.quality, "cost_per_item": out.cost_per_item, "items": out.n_items,
           "scored": out.scored, "calls": calls, "escalation_rate": out.escalation_rate}
    if share_model is not None:
        fig["share"] = calls.get(share_model, 0) / max(out.n_items, 1)
    return fig


@dataclass
class Recommendation:
    """The optimizer's answer. ``held_out`` is the figure to quote; ``in_sample`` is not."""

    goal: Goal
    policy: Policy
    family: str
    held_out: dict[str, Any]  # + "source": how it was measured
    in_sample: dict[str, Any]  # fitted and scored on the same rows: optimistic
    satisfied: bool  # the goal, on the held-out figures
    target_quality: float | None  # held-out quality the goal asks for (match/quality goals)
    baseline: dict[str, Any]  # one model alone on the same held-out rows
    cv: dict[str, Any]  # cross-validated figures of the chosen family on the training rows
    candidates: pd.DataFrame  # every family's cross-validated figures
    fold_of: np.ndarray  # fold of each training row (each row is held out exactly once)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "goal": str(self.goal), "goal_description": self.goal.describe(),
            "family": self.family, "policy": self.policy.to_dict(),
            "held_out": self.held_out, "in_sample": self.in_sample,
            "satisfied": self.satisfied, "target_quality": self.target_quality,
            "baseline": self.baseline, "cross_validation": self.cv, "notes": self.notes,
        })

    def summary_line(self) -> str:
        h, b = self.held_out, self.baseline
        verdict = "meets" if self.satisfied else "does NOT meet"
        return (f"{self.family}: held-out quality {h['quality']:.3f} at ${h['cost_per_item']:.6f}/item "
                f"({h['source']}); {b.get('model')} alone {b.get('quality', float('nan')):.3f} at "
                f"${b.get('cost_per_item', float('nan')):.6f}; {verdict} {self.goal.describe()}")


# ---------------------------------------------------------------------------------------------
def _check_models(policy: Policy, evalset: EvalSet, what: str) -> None:
    missing = [m for m in policy.models_called() if m not in evalset.models]
    if missing:
        raise InputError(f"{what} calls model(s) {', '.join(repr(m) for m in missing)}, which "
                         f"{evalset.name} does not have; it has {', '.join(evalset.models)}")


def _baseline_model(goal: Goal, evalset: EvalSet) -> str:
    if goal.model:
        return goal.model
    q = evalset.model_stats["quality"].to_numpy()
    return evalset.models[int(np.argmax(np.nan_to_num(q, nan=-1)))]


def _compact(policy: Policy) -> Policy:
    """Keep only the learned weights the policy uses (a smaller saved file)."""
    signal = getattr(policy, "signal_", None)
    if isinstance(policy, Cascade) and signal is not None and hasattr(signal, "restricted"):
        return Cascade(policy.models, policy.thresholds, signal.restricted(policy.models[:-1]))
    return policy


def default_families(evalset: EvalSet, goal: Goal, candidates: list[str] | None = None) -> list:
    """The families to search (:func:`core.routing.optimize.candidates.default_families`, imported on use)."""
    from core.routing.optimize.candidates import default_families as families

    return families(evalset, goal, candidates)


def _choose(family, train: EvalSet, goal: Goal, ctx: dict) -> Policy:
    """Fit ``family`` on ``train`` and return its best operating point there."""
    fitted = family.fitted(train, ctx)
    curve = fitted.curve(train, goal.model if goal.kind == "share" else None)
    target = quality_target(goal, train.score[:, train.model_index(goal.model)]
                            if goal.kind == "match" else None)
    idx, _ = pick(goal, curve.quality, curve.cost, curve.share, target)
    return fitted.policy(curve.params[idx])


def recommend(evalset: EvalSet, goal: str | Goal, test: EvalSet | None = None,
              candidates: list[str] | None = None, folds: int = 5, seed: int = 0) -> Recommendation:
    """Search policy families and thresholds for ``goal``; report held-out figures.

    ``candidates`` limits the models considered (the goal's model is always kept). Families are
    compared on ``folds``-fold cross-validation of ``evalset``; ``test``, when given, is used
    only to report the chosen policy (never to choose it).
    """
    goal = parse_goal(goal, evalset.models)
    # scikit-learn takes seconds to import: only once the goal is known to be valid
    from sklearn.model_selection import KFold

    if test is not None and goal.model and goal.model not in test.models:
        raise InputError(f"Goal '{goal}' names model '{goal.model}', which the test set "
                         f"{test.name} does not have")
    if candidates:
        for m in candidates:
            evalset.model_index(m)
        candidates = list(dict.fromkeys(list(candidates) + ([goal.model] if goal.model else [])))
    if not (~np.isnan(evalset.score)).any():
        raise InputError(f"{evalset.name} has no scores: the optimizer needs a labeled eval set")
    n = evalset.n_items
    folds = int(min(folds, n // 2))
    if folds < 2:
        raise InputError(f"{evalset.name} has {n} item(s); the optimizer needs at least 4 to "
                         "hold some out")
    families = default_families(evalset, goal, candidates)
    share_col = evalset.model_index(goal.model) if goal.kind == "share" else None

    # -- cross-validation: each row scored by a policy fitted without it ----------------------
    fold_of = np.empty(n, dtype=np.int64)
    F = len(families)
    cv_score = np.full((F, n), np.nan)
    cv_cost = np.full((F, n), np.nan)
    cv_tried = np.zeros((F, n, evalset.n_models), dtype=bool)
    failed: dict[int, str] = {}
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (train_idx, held_idx) in enumerate(splitter.split(np.arange(n))):
        fold_of[held_idx] = k
        train, held = evalset.select(rows=train_idx), evalset.select(rows=held_idx)
        ctx: dict = {}
        for f, fam in enumerate(families):
            if f in failed:
                continue
            try:
                out = _choose(fam, train, goal, ctx).evaluate(held)
            except InputError as exc:  # e.g. a signal this eval set cannot support
                failed[f] = str(exc)
                continue
            cv_score[f, held_idx] = out.score
            cv_cost[f, held_idx] = out.cost
            cv_tried[f, held_idx] = out.tried
    ok = np.array([f not in failed for f in range(F)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q_cv = np.where(ok, np.nanmean(cv_score, axis=1), np.nan)
        c_cv = np.where(ok, np.nanmean(cv_cost, axis=1), np.nan)
    share_cv = cv_tried[:, :, share_col].mean(axis=1) if share_col is not None else np.zeros(F)
    target_cv = quality_target(goal, evalset.score[:, evalset.model_index(goal.model)]
                               if goal.kind == "match" else None)
    if not ok.any():
        raise InputError(f"No policy could be evaluated on {evalset.name}: "
                         + "; ".join(sorted(set(failed.values())))[:300])
    q_pick = np.where(ok, q_cv, -1.0)
    c_pick = np.where(ok, c_cv, np.inf)
    best, _ = pick(goal, q_pick, c_pick, np.where(ok, share_cv, np.inf), target_cv)
    meets = satisfied(goal, q_cv, c_cv, share_cv, target_cv) & ok
    table = pd.DataFrame({"family": [fm.name for fm in families],
                          "kind": [fm.kind for fm in families],
                          "cv_quality": q_cv, "cv_cost_per_item": c_cv, "cv_share": share_cv,
                          "meets_goal_cv": meets,
                          "error": [failed.get(f) for f in range(F)]})
    table = table.sort_values(["meets_goal_cv", "cv_cost_per_item"], ascending=[False, True])

    calls_cv = {m: int(c) for m, c in zip(evalset.models, cv_tried[best].sum(axis=0)) if c}
    cv = {"quality": float(q_cv[best]), "cost_per_item": float(c_cv[best]), "items": n,
          "scored": int((~np.isnan(cv_score[best])).sum()), "calls": calls_cv,
          "escalation_rate": float((cv_tried[best].sum(axis=1) > 1).mean()),
          "folds": folds, "seed": seed, "target_quality": target_cv,
          "satisfied": bool(meets[best]),
          "source": f"{folds}-fold cross-validation on {evalset.name} (each row scored by a "
                    "policy fitted without it)"}
    if share_col is not None:
        cv["share"] = float(share_cv[best])

    # -- refit the chosen family on every training row ------------------------------------------
    policy = _compact(_choose(families[best], evalset, goal, {}))
    share_model = goal.model if goal.kind == "share" else None
    in_sample = figures(policy.evaluate(evalset), share_model)
    in_sample["source"] = f"in-sample: fitted and scored on the same rows of {evalset.name} (optimistic)"
    base_model = _baseline_model(goal, evalset)
    notes = ["In-sample figures score the policy on the rows it was fitted on; quote the held-out ones."]
    if test is not None:
        _check_models(policy, test, "The chosen policy")
        out = policy.evaluate(test)
        held = figures(out, share_model)
        held["source"] = f"test set {test.name} (never used for fitting or choosing)"
        ref = SingleModel(base_model).evaluate(test)
        target = quality_target(goal, test.score[:, test.model_index(goal.model)]
                                if goal.kind == "match" else None)
        ok_held = bool(satisfied(goal, np.array([held["quality"]]), np.array([held["cost_per_item"]]),
                                 np.array([held.get("share", 0.0)]), target)[0])
        rows_both = ~np.isnan(out.score) & ~np.isnan(ref.score)
    else:
        held = dict(cv)
        ref = SingleModel(base_model).evaluate(evalset)
        target, ok_held = target_cv, bool(meets[best])
        rows_both = ~np.isnan(cv_score[best]) & ~np.isnan(ref.score)
        out_score = cv_score[best]
        notes.append("Held-out figures are cross-validated; the best of several families was "
                     "chosen on them, which flatters them slightly. A separate test file removes "
                     "that bias.")
    policy_scores = out.score if test is not None else out_score
    baseline = {"model": base_model, "quality": ref.quality, "cost_per_item": ref.cost_per_item,
                "rows_compared": int(rows_both.sum()),
                "policy_quality_same_rows": _nanmean(policy_scores[rows_both]),
                "model_quality_same_rows": _nanmean(ref.score[rows_both])}
    if ref.cost_per_item and not math.isnan(ref.cost_per_item) and not math.isnan(held["cost_per_item"]):
        baseline["cost_ratio"] = held["cost_per_item"] / ref.cost_per_item
        baseline["savings"] = 1.0 - baseline["cost_ratio"]
    unknown = [m for j, m in enumerate(evalset.models) if np.isnan(evalset.cost[:, j]).all()]
    if unknown:
        notes.append(f"No cost is known for {', '.join(unknown)}: the search could not weigh "
                     "them by cost (add cost_usd or token counts to the eval set).")
    if failed:
        notes.append(f"{len(failed)} famil{'y' if len(failed) == 1 else 'ies'} could not run on "
                     "this eval set (see candidates.error).")
    return Recommendation(goal, policy, families[best].name, held, in_sample, ok_held,
                          target, baseline, cv, table.reset_index(drop=True), fold_of, notes)


# ---------------------------------------------------------------------------------------------
# Command line: fit and score
# ---------------------------------------------------------------------------------------------
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
        "baseline": rec.baseline,
        "in_sample": rec.in_sample,
        "fitted_on": {"evalset": train.name, "items": train.n_items, "models": list(train.models),
                      "fitted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")},
        "price_snapshot_date": price_snapshot_date(),
        "notes": rec.notes,
    })


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
    """``python -m core score``: ``{"quality", "cost_per_item", "items", "calls"}`` (+ extras).

    >>> score_policy_file("p.json", test)                            # doctest: +SKIP
    {'quality': 0.95, 'cost_per_item': 0.0019, 'items': 445, 'calls': {'gpt-4': 98, ...}, ...}
    """
    policy, _ = load_policy_file(path)
    _check_models(policy, evalset, f"The policy in {Path(path).name}")
    out = policy.evaluate(evalset)
    calls = out.calls()
    return json_safe({"quality": out.quality, "cost_per_item": out.cost_per_item,
                       "items": out.n_items, "calls": calls, "scored": out.scored,
                       "escalation_rate": out.escalation_rate, "policy": policy.to_dict()["kind"]})

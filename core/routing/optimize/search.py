"""The honest optimizer: the cheapest plan for a goal, chosen and estimated on rows never fitted on.

1. One K-fold split of the training rows; every learned signal (P(right) from the prompt, the
   answer scorer) is fitted once per fold and predicts the rows it did not see, so each family
   (:mod:`core.routing.optimize.families`) has an out-of-fold ranking of every row.
2. The pooled out-of-fold frontier of every family, its hull and the mix between adjacent
   vertices; the plan for the goal corrected for the optimism of choosing it, used only where it
   beats the random mix of single models significantly (:mod:`core.routing.optimize.choose`).
3. The chosen vertices' signals refit on every training row; their thresholds are the
   out-of-fold ones. The result is a policy (a :class:`~core.routing.policies.mix.Mix` of two
   when the plan mixes) and its held-out estimate with a 95% interval.

>>> rec = recommend(train, "match:gpt-4-1106-preview", test=test)   # doctest: +SKIP
>>> rec.cv["quality"], rec.cv["quality_ci"], rec.satisfied          # doctest: +SKIP
(0.9436, [0.931, 0.956], True)

With a ``test`` eval set the policy is also scored there (never used to choose it), and that is
the held-out figure reported; otherwise the held-out figure is the corrected out-of-fold estimate.
``in_sample`` (the refit policy scored on its own training rows) is optimistic and labeled so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.exports import json_safe
from core.routing.optimize.goals import Goal, parse_goal, quality_target, satisfied
from core.routing.policies import Mix, SingleModel
from core.routing.policies.base import Outcome, Policy
from core.routing.policies.mix import escalated
from core.routing.policies.oracle import Oracle

__all__ = ["recommend", "Recommendation", "figures", "random_mix_line", "oracle_figures"]


def _nanmean(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.nanmean(a)) if len(a) and not np.isnan(a).all() else float("nan")


def figures(out: Outcome, share_model: str | None = None) -> dict[str, Any]:
    """Quality, cost per item, items, scored items, calls per model, escalation rate (items that
    went past their first step; agreement voters called alongside a step are not escalations)."""
    calls = {m: c for m, c in out.calls().items() if c}
    fig = {"quality": out.quality, "cost_per_item": out.cost_per_item, "items": out.n_items,
           "scored": out.scored, "calls": calls,
           "escalation_rate": float(np.mean(escalated(out))) if out.n_items else float("nan")}
    if share_model is not None:
        fig["share"] = calls.get(share_model, 0) / max(out.n_items, 1)
    return fig


def random_mix_line(evalset: EvalSet, quality: float, cost: float) -> dict[str, float]:
    """The line of random mixes of single models (their upper convex hull in cost and quality):
    its quality at ``cost`` and its cost at ``quality``; a router worth having sits above it."""
    from core.routing.optimize.menu import hull_ids

    stats = evalset.model_stats.dropna(subset=["quality", "cost_per_item"])
    q, c = stats["quality"].to_numpy(float), stats["cost_per_item"].to_numpy(float)
    if not len(q):
        return {"quality_at_cost": float("nan"), "cost_at_quality": float("nan")}
    h = hull_ids(q, c)
    at_cost = float(np.interp(cost, c[h], q[h])) if cost == cost else float("nan")
    at_quality = float(np.interp(quality, q[h], c[h])) if quality == quality and quality <= q[h].max() \
        else float("nan")
    return {"quality_at_cost": at_cost, "cost_at_quality": at_quality,
            "models": [stats.index[i] for i in h]}


def oracle_figures(evalset: EvalSet) -> dict[str, float]:
    """The oracle over every model of the set: the cheapest model reaching each item's best score."""
    out = Oracle().evaluate(evalset)
    return {"quality": out.quality, "cost_per_item": out.cost_per_item}


@dataclass
class Recommendation:
    """The optimizer's answer. ``held_out`` is the figure to quote; ``in_sample`` is not."""

    goal: Goal
    policy: Policy
    family: str  # what the plan is, in words
    held_out: dict[str, Any]  # + "source": how it was measured
    in_sample: dict[str, Any]  # fitted and scored on the same rows: optimistic
    satisfied: bool  # the goal, on the held-out figures
    target_quality: float | None
    baseline: dict[str, Any]  # one model alone on the same held-out rows
    cv: dict[str, Any]  # the corrected out-of-fold estimate of the plan on the training rows
    candidates: pd.DataFrame  # every family's out-of-fold figures and signal AUC
    fold_of: np.ndarray  # fold of each training row (each row is held out exactly once)
    notes: list[str] = field(default_factory=list)
    signals: pd.DataFrame = field(default_factory=pd.DataFrame)  # every learned signal's OOF AUC
    menu: pd.DataFrame = field(default_factory=pd.DataFrame)  # the plan per quality target
    best_achievable: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return json_safe({
            "goal": str(self.goal), "goal_description": self.goal.describe(),
            "family": self.family, "policy": self.policy.to_dict(),
            "held_out": self.held_out, "in_sample": self.in_sample,
            "satisfied": self.satisfied, "target_quality": self.target_quality,
            "baseline": self.baseline, "cross_validation": self.cv, "notes": self.notes,
            "signals": self.signals.to_dict("records"),
        })

    def estimate_line(self) -> str:
        """The held-out estimate and its interval, in one line."""
        h, b = self.held_out, self.baseline
        ci = h.get("quality_ci")
        interval = f" [95% {ci[0]:.3f}-{ci[1]:.3f}]" if ci else ""
        ratio = b.get("cost_ratio")
        vs = f" ({ratio:.1%} of {b['model']}'s cost)" if ratio is not None and ratio == ratio else ""
        return (f"held-out quality {h['quality']:.4f}{interval} at ${h['cost_per_item']:.6f}/item{vs}; "
                f"{b.get('model')} alone {b.get('quality', float('nan')):.4f} at "
                f"${b.get('cost_per_item', float('nan')):.6f} ({h['source']})")

    def summary_line(self) -> str:
        verdict = "meets" if self.satisfied else "does NOT meet"
        return f"{self.family}: {self.estimate_line()}; {verdict} {self.goal.describe()}"


def check_policy_models(policy: Policy, evalset: EvalSet, what: str) -> None:
    """Refuse (InputError) a policy that calls a model the eval set has no column for."""
    missing = [m for m in policy.models_called() if m not in evalset.models]
    if missing:
        raise InputError(f"{what} calls model(s) {', '.join(repr(m) for m in missing)}, which "
                         f"{evalset.name} does not have; it has {', '.join(evalset.models)}")


def baseline_model(goal: Goal, evalset: EvalSet) -> str:
    """The model a plan is compared with: the goal's, else the best-quality one."""
    if goal.model:
        return goal.model
    q = evalset.model_stats["quality"].to_numpy()
    return evalset.models[int(np.argmax(np.nan_to_num(q, nan=-1)))]


def describe_point(family, t: float) -> str:
    return family.name if family.one_point else f"{family.name} at threshold {t:.4g}"


def recommend(evalset: EvalSet, goal: str | Goal, test: EvalSet | None = None,
              candidates: list[str] | None = None, folds: int = 5, seed: int = 0) -> Recommendation:
    """The plan for ``goal`` on ``evalset`` (module docstring); ``candidates`` limits the models
    (the goal's model is always kept)."""
    goal = parse_goal(goal, evalset.models)
    if test is not None and goal.model and goal.model not in test.models:
        raise InputError(f"Goal '{goal}' names model '{goal.model}', which the test set "
                         f"{test.name} does not have")
    if candidates:
        for m in candidates:
            evalset.model_index(m)
    models = list(dict.fromkeys(list(candidates or evalset.models) + ([goal.model] if goal.model else [])))
    if not (~np.isnan(evalset.score)).any():
        raise InputError(f"{evalset.name} has no scores: the optimizer needs a labeled eval set")
    n = evalset.n_items
    folds = int(min(folds, n // 2))
    if folds < 2:
        raise InputError(f"{evalset.name} has {n} item(s); the optimizer needs at least 4 to "
                         "hold some out")
    from core.routing.optimize.choose import choose
    from core.routing.optimize.families import build_families
    from core.routing.signals.members import one_thread
    from core.routing.signals.prompt_correctness import fold_indices

    splits = fold_indices(n, folds, seed)
    fold_of = np.empty(n, dtype=np.int64)
    for k, (_, held) in enumerate(splits):
        fold_of[held] = k
    share_model = goal.model if goal.kind == "share" else None
    target = quality_target(goal, evalset.score[:, evalset.model_index(goal.model)]
                            if goal.kind == "match" else None)
    with one_thread():
        built = build_families(evalset, models, goal.model, share_model, splits, seed)
        choice = choose(built.families, goal, target, seed=seed)
        fa, ta = choice.vertex(choice.a)
        fb, tb = choice.vertex(choice.b)
        policy_a = fa.make(ta)
        if choice.alpha <= 0 or (choice.a == choice.b):
            policy, described = policy_a, describe_point(fa, ta)
        elif choice.alpha >= 1:
            policy, described = fb.make(tb), describe_point(fb, tb)
        else:
            policy = Mix(policy_a, fb.make(tb), choice.alpha)
            described = (f"mix: {1 - choice.alpha:.0%} of items {describe_point(fa, ta)}; "
                         f"{choice.alpha:.0%} {describe_point(fb, tb)}")
    est = choice.estimate
    base = baseline_model(goal, evalset)
    cv = _cv_figures(evalset, choice, est, target, folds, seed, goal)
    cv["plan"] = described
    base_train = _baseline(evalset, base, choice.row_score, choice.weights, est)
    in_sample = figures(policy.evaluate(evalset), share_model)
    in_sample["source"] = f"in-sample: fitted and scored on the same rows of {evalset.name} (optimistic)"
    notes = ["In-sample figures score the policy on the rows it was fitted on; quote the held-out ones."]
    notes += built.notes
    if test is not None:
        check_policy_models(policy, test, "The chosen policy")
        out = policy.evaluate(test)
        held = figures(out, share_model)
        held["source"] = f"test set {test.name} (never used for fitting or choosing)"
        ref = SingleModel(base).evaluate(test)
        test_target = quality_target(goal, test.score[:, test.model_index(goal.model)]
                                     if goal.kind == "match" else None)
        ok_held = bool(satisfied(goal, np.array([held["quality"]]), np.array([held["cost_per_item"]]),
                                 np.array([held.get("share", 0.0)]), test_target)[0])
        both = ~np.isnan(out.score) & ~np.isnan(ref.score)
        baseline = {"model": base, "quality": ref.quality, "cost_per_item": ref.cost_per_item,
                    "rows_compared": int(both.sum()),
                    "policy_quality_same_rows": _nanmean(out.score[both]),
                    "model_quality_same_rows": _nanmean(ref.score[both])}
        if ref.cost_per_item and not math.isnan(ref.cost_per_item) and not math.isnan(held["cost_per_item"]):
            baseline["cost_ratio"] = held["cost_per_item"] / ref.cost_per_item
            baseline["savings"] = 1.0 - baseline["cost_ratio"]
        held["random_mix"] = random_mix_line(test, held["quality"], held["cost_per_item"])
        held["oracle"] = oracle_figures(test)
        target_reported = test_target
    else:
        held, baseline, ok_held, target_reported = dict(cv), base_train, bool(choice.met), target
    best = _best_achievable(choice, goal)
    table = _candidates(built.families, choice, target)
    signals = pd.DataFrame(built.signals)
    return Recommendation(goal, policy, described, held, in_sample, ok_held, target_reported,
                          baseline, cv, table, fold_of, notes, signals, choice.menu, best)


def _cv_figures(evalset: EvalSet, choice, est: dict, target, folds: int, seed: int, goal: Goal) -> dict:
    """The corrected out-of-fold estimate of the chosen plan: quality and cost with 95% intervals,
    expected calls per model and escalation rate over the hash split."""
    table = choice.table
    calls = np.zeros(evalset.n_models)
    esc = 0.0
    for point, weight in ((choice.a, 1 - choice.alpha), (choice.b, choice.alpha)):
        if weight <= 0:
            continue
        fam = table.families[table.family_of[point]]
        keep = table.rows_of(point)[3]
        for arm, rows in ((fam.keep, keep), (fam.escalate, ~keep)):
            if arm.tried is not None:
                calls += weight * arm.tried[rows].sum(axis=0)
            else:
                calls[list(arm.cols)] += weight * rows.sum()
            esc += weight * np.mean(rows & np.broadcast_to(np.asarray(arm.escalated, dtype=bool), rows.shape))
    scored = int((~np.isnan(choice.row_score)).sum())
    cv = {"quality": est["quality"], "quality_ci": est["quality_ci"], "cost_per_item": est["cost_per_item"],
          "cost_ci": est["cost_ci"], "items": evalset.n_items, "scored": scored,
          "calls": {m: round(float(c), 1) for m, c in zip(evalset.models, calls) if c > 0},
          "escalation_rate": float(esc), "target_quality": target, "satisfied": bool(choice.met),
          "optimism": est["optimism"], "apparent_quality": est["apparent_quality"],
          "used_learned": est["used_learned"], "gain_vs_random_mix": est["gain_vs_random_mix"],
          "gain_se": est["gain_se"], "folds": folds, "seed": seed, "n_boot": est["n_boot"],
          "source": f"pooled {folds}-fold cross-validation on {evalset.name} (every row scored by "
                    "signals fitted without it; the optimism of choosing among "
                    f"{est['families']} families, measured on {est['n_boot']} bootstrap resamples, "
                    "subtracted)"}
    if goal.kind == "share":
        cv["share"] = est["share"]
    return cv


def _baseline(evalset: EvalSet, model: str, row_score: np.ndarray, W: np.ndarray, est: dict) -> dict:
    """The baseline model on the training rows, and the plan's paired difference to it (95%)."""
    j = evalset.model_index(model)
    ref = evalset.score[:, j]
    quality, cost = _nanmean(ref), _nanmean(evalset.cost[:, j])
    both = ~np.isnan(ref) & ~np.isnan(row_score)
    out = {"model": model, "quality": quality, "cost_per_item": cost, "rows_compared": int(both.sum()),
           "policy_quality_same_rows": est["quality"], "model_quality_same_rows": quality}
    ok = ~np.isnan(ref)
    ref_b = (W @ np.nan_to_num(ref)) / np.maximum(W @ ok, 1e-12)
    ok_s = ~np.isnan(row_score)
    plan_b = (W @ np.nan_to_num(row_score)) / np.maximum(W @ ok_s, 1e-12) - est["optimism"]
    diff = plan_b - ref_b
    out["quality_diff"] = est["quality"] - quality
    out["quality_diff_ci"] = [float(np.percentile(diff, 2.5)), float(np.percentile(diff, 97.5))]
    if cost and cost == cost:
        out["cost_ratio"] = est["cost_per_item"] / cost
        out["cost_ratio_ci"] = [c / cost for c in est["cost_ci"]]
        out["savings"] = 1.0 - out["cost_ratio"]
    out["random_mix"] = random_mix_line(evalset, est["quality"], est["cost_per_item"])
    out["oracle"] = oracle_figures(evalset)
    return out


def _best_achievable(choice, goal: Goal) -> dict:
    """What an unmet goal can have instead: the highest-quality plan on the menu (quality goals),
    the cheapest (cost goals) or the one calling the share model least (share goals)."""
    menu = choice.menu
    key = {"cost": "cost", "share": "share"}.get(goal.kind)
    row = menu.loc[menu[key].idxmin()] if key else menu.loc[menu["quality"].idxmax()]
    return {"quality": float(row["quality"]), "cost_per_item": float(row["cost"]),
            "share": float(row["share"]), "used_learned": bool(row["use_learned"])}


def _candidates(families: list, choice, target) -> pd.DataFrame:
    """Every family: its signal's AUC and the cheapest out-of-fold point meeting the target (else
    its best), uncorrected."""
    from core.routing.optimize.menu import FrontierTable

    full = FrontierTable(families, int(2 * np.ceil(np.sqrt(len(families[0].z)))))
    q, c, _ = full.points()
    rows = []
    for f, fam in enumerate(families):
        idx = np.flatnonzero(full.family_of == f)
        meets = idx[q[idx] >= (target if target is not None else -np.inf) - 1e-9]
        pick = meets[np.argmin(c[meets])] if len(meets) else idx[np.nanargmax(q[idx])]
        sig = fam.signal or {}
        auc = sig.get("auc")
        rows.append({"family": fam.name, "kind": fam.kind, "signal": sig.get("label"),
                     "signal_auc": auc if not isinstance(auc, dict) else ", ".join(f"{m} {v:.3f}" for m, v in auc.items()),
                     "cv_quality": float(q[pick]), "cv_cost_per_item": float(c[pick]),
                     "meets_goal_cv": bool(len(meets)), "points": int(len(idx))})
    table = pd.DataFrame(rows)
    return table.sort_values(["meets_goal_cv", "cv_cost_per_item"], ascending=[False, True]).reset_index(drop=True)

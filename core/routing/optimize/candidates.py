"""Policy families the optimizer searches, each with every operating point on a training set.

A family (e.g. "cascade Yi -> gpt-4, agreement of Yi, mixtral") is fitted on training rows with
:meth:`Family.fitted`; the fitted family lists its operating points on those rows (``curve``,
vectorized over every threshold at once) and turns a chosen point into a real
:class:`~core.routing.policies.base.Policy` (``policy``), which is then scored on rows it never saw.

>>> fams = default_families(train, parse_goal("match:big"))         # doctest: +SKIP
>>> fitted = fams[0].fitted(train)                                   # doctest: +SKIP
>>> curve = fitted.curve(train, share_model="big")                   # doctest: +SKIP
>>> fitted.policy(curve.params[3])                                   # doctest: +SKIP
Cascade(['small', 'big'], [0.62], 'agreement')
"""
from __future__ import annotations

import copy
import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from core.evaluation.evalset import EvalSet
from core.routing.optimize.goals import Goal
from core.routing.policies import Cascade, Policy, SingleModel, TaskRouter, plan_cascade
from core.routing.policies.learned import LearnedRouter
from core.routing.signals import Agreement, SelfConfidence, Signal
from core.routing.signals.features import ItemFeatures
from core.routing.signals.learned import LearnedCorrectness

MAX_GRID_2 = 400  # thresholds tried for a 2-model cascade (every distinct value up to this)
MAX_GRID_3 = 20  # per step for a 3-model cascade (20 x 20 points)
ESCALATE_ALL = 1.01  # a threshold no signal in [0, 1] reaches


@dataclass
class Curve:
    """Operating points of a fitted family on one eval set (arrays over points)."""

    params: list[Any]
    quality: np.ndarray
    cost: np.ndarray
    share: np.ndarray  # share of items that call the goal's share model (zeros if none)


def _nanmean0(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=0)


def _points(score: np.ndarray, cost: np.ndarray, called: np.ndarray | None, params) -> Curve:
    """Aggregate per-item matrices [n, P] into a Curve."""
    share = called.mean(axis=0) if called is not None else np.zeros(score.shape[1])
    return Curve(list(params), _nanmean0(score), _nanmean0(cost), share)


def _grid(values: np.ndarray, limit: int) -> np.ndarray:
    """Every distinct value (quantiles when there are more than ``limit``), plus escalate-all."""
    v = np.unique(values[~np.isnan(values)])
    if len(v) > limit:
        v = np.unique(np.quantile(v, np.linspace(0, 1, limit)))
    # Midway between neighbouring values: the same split of the training rows as the values
    # themselves, with a margin on both sides for rows not seen yet.
    mid = np.concatenate([v[:1], (v[:-1] + v[1:]) / 2]) if len(v) else v
    return np.append(mid, ESCALATE_ALL)


# ---------------------------------------------------------------------------------------------
class Fitted:
    """A family fitted on training rows."""

    def curve(self, evalset: EvalSet, share_model: str | None = None) -> Curve:
        raise TypeError

    def policy(self, param) -> Policy:
        raise TypeError


@dataclass
class Family:
    """A named policy family; ``build(train, context)`` returns its :class:`Fitted` form."""

    name: str
    kind: str
    build: Callable[[EvalSet, dict], Fitted]

    def fitted(self, train: EvalSet, context: dict | None = None) -> Fitted:
        return self.build(train, context if context is not None else {})


# -- single models -----------------------------------------------------------------------------
class _FittedSingle(Fitted):
    def __init__(self, model: str):
        self.model = model

    def curve(self, evalset, share_model=None):
        j = evalset.model_index(self.model)
        called = np.full((evalset.n_items, 1), share_model == self.model)
        return _points(evalset.score[:, [j]], evalset.cost[:, [j]], called, [self.model])

    def policy(self, param):
        return SingleModel(self.model)


# -- cascades ----------------------------------------------------------------------------------
class _FittedCascade(Fitted):
    def __init__(self, models: tuple[str, ...], signal: Signal, train: EvalSet, ctx: dict):
        self.models, self.signal = models, signal
        plan = plan_cascade(train, models, signal)
        if isinstance(signal, LearnedCorrectness):
            # A learned signal is overconfident on the rows it was trained on: thresholds are
            # chosen on out-of-fold scores instead, as the signal will behave on new rows.
            oof = _oof_scores(train, ctx, signal.consult)
            plan = replace(plan, conf=np.column_stack([oof[m] for m in models[:-1]]))
        self._train_plan = (train, plan)  # curve() on the same rows reuses it
        limit = MAX_GRID_2 if len(models) == 2 else MAX_GRID_3
        self.grids = [_grid(plan.conf[:, s], limit) for s in range(len(models) - 1)]

    def curve(self, evalset, share_model=None):
        plan = self._train_plan[1] if self._train_plan[0] is evalset else \
            plan_cascade(evalset, self.models, self.signal)
        mesh = np.meshgrid(*self.grids, indexing="ij")
        T = np.column_stack([m.ravel() for m in mesh])  # [P, k-1]
        n, k = plan.conf.shape[0], len(self.models)
        accept = np.ones((n, len(T), k), dtype=bool)
        accept[:, :, :-1] = plan.conf[:, None, :] >= T[None, :, :]
        stop = np.argmax(accept, axis=2)  # [n, P]
        rows = np.arange(n)[:, None]
        score = plan.score[rows, stop]
        cost = np.cumsum(plan.step_cost, axis=1)[rows, stop]
        called = None
        if share_model is not None and share_model in evalset.models:
            called = stop >= plan.first_step[evalset.model_index(share_model)]
        return _points(score, cost, called, [tuple(float(x) for x in t) for t in T])

    def policy(self, param):
        return Cascade(self.models, list(param), self.signal)


# -- learned router ----------------------------------------------------------------------------
class _FittedRouter(Fitted):
    def __init__(self, router: LearnedRouter, train: EvalSet):
        self.router = router
        self.grid = _grid(router.probabilities(train).ravel(), 60)

    def curve(self, evalset, share_model=None):
        P = self.router.probabilities(evalset)
        ok = P[:, None, :] >= self.grid[None, :, None]  # [n, T, k]
        pick = np.where(ok.any(axis=2), np.argmax(ok, axis=2), np.argmax(P, axis=1)[:, None])
        cols = np.array([evalset.model_index(m) for m in self.router.cost_order_])[pick]
        rows = np.arange(evalset.n_items)[:, None]
        called = (cols == evalset.model_index(share_model)) if share_model in evalset.models else None
        return _points(evalset.score[rows, cols], evalset.cost[rows, cols], called, self.grid)

    def policy(self, param):
        return copy.copy(self.router).set_params(threshold=float(param))


# -- task routing table fitted per task ---------------------------------------------------------
LAMBDAS = np.concatenate([[0.0], np.logspace(0, 6, 37), [np.inf]])  # quality points per USD


class _FittedTaskTable(Fitted):
    def __init__(self, models: tuple[str, ...], train: EvalSet):
        self.models = models
        cols = [train.model_index(m) for m in models]
        frame = pd.DataFrame({"task": np.repeat(train.tasks.astype(str), len(cols)),
                              "model": np.tile(np.array(models, dtype=object), train.n_items),
                              "score": train.score[:, cols].ravel(),
                              "cost": train.cost[:, cols].ravel()})
        stats = frame.groupby(["task", "model"], sort=True)[["score", "cost"]].mean()
        q = stats["score"].unstack().reindex(columns=list(models))
        c = stats["cost"].unstack().reindex(columns=list(models))
        overall_q = np.nanmean(train.score[:, cols], axis=0)
        overall_c = np.nanmean(train.cost[:, cols], axis=0)
        self.tables: list[tuple[dict, str]] = []
        seen = set()
        for lam in LAMBDAS:
            util = _utility(q.to_numpy(), c.to_numpy(), lam)
            table = {t: models[int(i)] for t, i in zip(q.index, np.argmax(util, axis=1))}
            default = models[int(np.argmax(_utility(overall_q[None, :], overall_c[None, :], lam)[0]))]
            key = (tuple(sorted(table.items())), default)
            if key not in seen:
                seen.add(key)
                self.tables.append((table, default))

    def curve(self, evalset, share_model=None):
        score, cost, called = [], [], []
        for table, default in self.tables:
            out = TaskRouter(table, default).evaluate(evalset)
            score.append(out.score)
            cost.append(out.cost)
            if share_model in evalset.models:
                called.append(out.tried[:, evalset.model_index(share_model)])
        return _points(np.column_stack(score), np.column_stack(cost),
                       np.column_stack(called) if called else None, range(len(self.tables)))

    def policy(self, param):
        table, default = self.tables[int(param)]
        return TaskRouter(table, default)


def _utility(q: np.ndarray, c: np.ndarray, lam: float) -> np.ndarray:
    """quality - lam * cost; unknown quality never wins; lam = inf picks the cheapest."""
    qn = np.nan_to_num(q, nan=-1e9)
    cn = np.nan_to_num(c, nan=1e9)
    if np.isinf(lam):
        return -cn + 1e-12 * qn
    return qn - lam * cn


# ---------------------------------------------------------------------------------------------
# Which families to try
# ---------------------------------------------------------------------------------------------
def pareto_models(stats: pd.DataFrame, limit: int = 5) -> list[str]:
    """Models no other model beats on both quality and cost, cheapest first (at most ``limit``,
    keeping the best)."""
    s = stats[(stats["scored"] > 0) & stats["cost_per_item"].notna()].sort_values(["cost_per_item", "quality"],
                                                                           ascending=[True, False])
    front, best = [], -np.inf
    for model, row in s.iterrows():
        if row["quality"] > best:
            front.append(model)
            best = row["quality"]
    return front[-limit:]


def _voters(stats: pd.DataFrame, model: str, exclude: set[str], k: int) -> list[str]:
    """The ``k`` best models costing at most twice ``model`` (cheap peers whose vote is cheap)."""
    cap = stats.loc[model, "cost_per_item"] * 2.0
    peers = stats[(stats.index != model) & (stats["cost_per_item"] <= cap) & (stats["scored"] > 0)
                  & ~stats.index.isin(list(exclude))]
    return list(peers.sort_values("quality", ascending=False).index[:k])


def default_families(train: EvalSet, goal: Goal, candidates: list[str] | None = None) -> list[Family]:
    """Single models, cascades over Pareto-front pairs and triples with every usable signal,
    the learned router and (with several tasks) a per-task routing table."""
    stats = (train.select(candidates) if candidates else train).model_stats
    usable = [m for m in stats.index if stats.loc[m, "scored"] > 0]
    front = pareto_models(stats.loc[usable])
    if goal.model and goal.model in usable and goal.model not in front:
        front = sorted(front + [goal.model], key=lambda m: stats.loc[m, "cost_per_item"])
    has_answers = bool((~pd.isna(train.answer_keys)).any())
    fams: list[Family] = [Family(f"single {m}", "single", lambda tr, ctx, m=m: _FittedSingle(m))
                          for m in usable]
    chains = [(a, b) for i, a in enumerate(front) for b in front[i + 1:]]
    chains += [(a, b, c) for i, a in enumerate(front) for j, b in enumerate(front[i + 1:], i + 1)
               for c in front[j + 1:]]
    steps = tuple(front[:-1])  # every model that is ever a non-final cascade step
    for chain in chains:
        if all(stats.loc[m, "has_confidence"] for m in chain[:-1]):
            fams.append(_cascade_family(chain, "confidence", lambda tr, ctx: SelfConfidence()))
        if has_answers:
            # Two-model cascades try every panel of 1 to 3 of the 4 best cheap peers (which
            # voters catch the first model's mistakes is an empirical question: cross-validation
            # answers it); three-model cascades try the 2 best peers.
            peers = _voters(stats, chain[0], set(chain[1:]), 4 if len(chain) == 2 else 2)
            sizes = (1, 2, 3) if len(chain) == 2 else (2,)
            for voters in (c for k in sizes for c in itertools.combinations(peers, k)):
                fams.append(_cascade_family(
                    chain, f"agreement of {', '.join([chain[0], *voters])}",
                    lambda tr, ctx, v=tuple([chain[0], *voters]): Agreement(v)))
        if len(chain) == 2 or not has_answers:
            fams.append(_cascade_family(chain, "learned P(correct)",
                                        lambda tr, ctx: _shared_learned(tr, ctx, (), steps)))
        if has_answers:
            voters = tuple(_voters(stats, chain[0], set(chain), 2))
            if voters:
                fams.append(_cascade_family(
                    chain, f"learned P(correct) + agreement of {', '.join(voters)}",
                    lambda tr, ctx, v=voters: _shared_learned(tr, ctx, v, steps)))
    fams.append(Family(f"learned router over {', '.join(front)}", "learned_router",
                       lambda tr, ctx, ms=tuple(front): _FittedRouter(
                           LearnedRouter(ms, signal=LearnedCorrectness(
                               ms, features=_features(tr, ctx))).fit(tr), tr)))
    if len(set(train.tasks)) > 1:
        fams.append(Family("task routing table", "task_router",
                           lambda tr, ctx, ms=tuple(usable): _FittedTaskTable(ms, tr)))
    return fams


def _cascade_family(chain: tuple[str, ...], signal_name: str,
                    make_signal: Callable[[EvalSet, dict], Signal]) -> Family:
    return Family(f"cascade {' -> '.join(chain)} ({signal_name})", "cascade",
                  lambda tr, ctx: _FittedCascade(chain, make_signal(tr, ctx), tr, ctx))


def _features(train: EvalSet, ctx: dict) -> ItemFeatures:
    """One text/metadata featurizer per training set, shared by every learned signal on it."""
    feats = ctx.get("features")
    if feats is None or feats.fitted_on_ is not train:
        feats = ItemFeatures().fit(train)
        ctx["features"] = feats
    return feats


def _shared_learned(train: EvalSet, ctx: dict, consult: tuple[str, ...],
                    steps: tuple[str, ...]) -> LearnedCorrectness:
    """A learned signal fitted once per training set and consulted models, trained for every
    model (so every cascade over the same rows reuses it)."""
    cache = ctx.setdefault("learned", {})
    ctx["steps"] = steps
    sig = cache.get((consult, steps))
    if sig is None:
        sig = LearnedCorrectness(steps, consult=consult, features=_features(train, ctx)).fit(train)
        cache[(consult, steps)] = sig
    return sig


def _oof_scores(train: EvalSet, ctx: dict, consult: tuple[str, ...], folds: int = 3) -> dict:
    """Out-of-fold learned P(correct) on the training rows, per model (inner cross-fitting)."""
    cache = ctx.setdefault("oof", {})
    models = ctx["steps"]
    if (consult, models) not in cache:
        feats = _features(train, ctx)
        out = {m: np.full(train.n_items, np.nan) for m in models}
        splitter = KFold(n_splits=min(folds, train.n_items), shuffle=True, random_state=0)
        for fit_idx, held_idx in splitter.split(np.arange(train.n_items)):
            sub, held = train.select(rows=fit_idx), train.select(rows=held_idx)
            sig = LearnedCorrectness(models, consult=consult, features=feats).fit(sub)
            for m, col in zip(models, sig.probabilities(held, models).T):
                out[m][held_idx] = col
        cache[(consult, models)] = out
    return cache[(consult, models)]

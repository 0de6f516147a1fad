"""The quality-cost frontier of a cascade: every operating point, its Pareto front, the single
models, the oracle and the router metrics (APGR, CPT, AIQ: see :mod:`core.routing.router_metrics`).

Every distinct threshold is an operating point. The trick that makes this fast: a cascade over
``k`` models keeps step ``s``'s answer when ``conf_s >= t_s`` for the first such step, so with
each step's signal replaced by its rank ``r_s`` among that step's distinct values, an item stops
at step ``s`` exactly when ``r_0 < a_0, ..., r_{s-1} < a_{s-1}, r_s >= a_s`` (``a`` = threshold
ranks). Summing any per-item quantity over the items stopping at ``s`` is then a histogram over
the ranks followed by prefix sums on the earlier axes and a suffix sum on axis ``s``; the sum
over ``s`` gives the quantity at *every* threshold combination at once:

* 2 models: sort once, cumulative sums: ``n_distinct + 1`` points in O(n log n);
* 3 models: a ``(K_0 + 1) x (K_1 + 1)`` table of points in O(n log n + K_0 K_1).

Continuous signals on huge sets can have millions of distinct values per step, i.e. 10^12
threshold pairs; then each step is limited to ``max_cells ** (1 / (k - 1))`` candidate
thresholds at the quantiles of its own values (``exhaustive`` is False and says so). Every
point reported, exhaustive or not, is exactly the outcome of ``Cascade(models, thresholds)``.

>>> fr = cascade_frontier(es, ["small", "big"], "confidence")
>>> fr.points[["t0", "quality", "cost_per_item"]].head(2)
    t0  quality  cost_per_item
0  0.3     0.50         0.0010
1  0.5     0.75         0.0035
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.policies.cascade import Cascade, CascadePlan, outcome_at, plan_cascade
from core.routing.policies.oracle import Oracle
from core.routing.router_metrics import aiq, apgr, cpt, pareto_front, share_curve
from core.routing.signals import Agreement, Signal, signal_from_dict

MAX_CELLS = 1_000_000  # operating points computed at most (3+ models, continuous signals)


@dataclass(eq=False)
class FrontierResult:
    """All operating points of one cascade family on one eval set.

    ``points``: one row per threshold combination: ``t0..t{k-2}``, ``quality``,
    ``cost_per_item``, ``escalation_rate``, ``share_<i>`` (share of answers kept from step i),
    ``strong_share`` (share of items calling the last model), ``pareto`` (non-dominated).
    """

    models: tuple[str, ...]
    signal: Signal
    points: pd.DataFrame
    singles: pd.DataFrame  # model, quality, cost_per_item, in_cascade
    oracle: dict
    exhaustive: bool
    n_items: int
    metrics: dict = field(default_factory=dict)  # apgr, cpt50, cpt80, aiq, weak, strong
    evalset: EvalSet | None = None
    plan: CascadePlan | None = None
    candidates: list = field(default_factory=list)  # per step: candidate thresholds, sorted
    ranks: list = field(default_factory=list)  # per step: int [n] rank of each item's signal

    @property
    def threshold_columns(self) -> list[str]:
        return [f"t{s}" for s in range(len(self.models) - 1)]

    def pareto(self) -> pd.DataFrame:
        return self.points[self.points["pareto"]].sort_values("cost_per_item")

    def cascade(self, thresholds) -> Cascade:
        """The cascade at ``thresholds``, sharing this frontier's fitted signal and cached arrays."""
        policy = Cascade(self.models, thresholds, self.signal)
        if self.evalset is not None and self.plan is not None:
            policy.remember_plan(self.evalset, self.plan)
        return policy

    def outcome(self, thresholds):
        return outcome_at(self.evalset, self.plan, thresholds)

    def stops(self, point_rows) -> np.ndarray:
        """int [len(point_rows), n]: step whose answer each item keeps at each point."""
        shape = [len(c) + 1 for c in self.candidates]
        a = np.unravel_index(np.asarray(point_rows, dtype=np.int64), shape)
        k = len(self.models)
        accept = np.ones((len(point_rows), self.n_items, k), dtype=bool)
        for s in range(k - 1):
            accept[:, :, s] = self.ranks[s][None, :] >= a[s][:, None]
        return np.argmax(accept, axis=2)

    def to_dict(self, max_points: int | None = None) -> dict:
        """JSON-ready summary (NaN -> None). ``max_points`` thins ``points`` (never ``pareto``)."""
        cols = self.threshold_columns
        pts = self.points
        if max_points is not None and len(pts) > max_points:
            keep = np.unique(np.linspace(0, len(pts) - 1, max_points).astype(int))
            pts = pts.iloc[keep]

        def rows(frame):
            out = []
            for rec in frame.itertuples(index=False):
                d = rec._asdict()
                out.append({"thresholds": [_num(d[c]) for c in cols], "quality": _num(d["quality"]),
                            "cost_per_item": _num(d["cost_per_item"]),
                            "escalation_rate": _num(d["escalation_rate"]),
                            "strong_share": _num(d["strong_share"])})
            return out

        return {
            "items": self.n_items, "models": list(self.models), "signal": self.signal.to_dict(),
            "exhaustive": self.exhaustive, "n_points": int(len(self.points)),
            "points": rows(pts), "pareto": rows(self.pareto()),
            "singles": [{"model": r.model, "quality": _num(r.quality),
                         "cost_per_item": _num(r.cost_per_item), "in_cascade": bool(r.in_cascade)}
                        for r in self.singles.itertuples(index=False)],
            "oracle": {k: _num(v) for k, v in self.oracle.items()},
            **{k: (_num(v) if not isinstance(v, str) else v) for k, v in self.metrics.items()},
        }


def _num(v):
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


# ---------------------------------------------------------------------------------------------
def _candidates(conf: np.ndarray, limit: int | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Candidate thresholds (sorted distinct values, or ``limit`` of them at the quantiles), each
    item's rank (``conf >= cand[a]`` exactly when ``rank >= a``) and whether all were kept."""
    # Hash-factorize (O(n)), then sort only the distinct values: faster than np.unique's full
    # sort when confidence comes in a few levels, as verbalized confidence does.
    codes, uniques = pd.factorize(conf, sort=False)
    order = np.argsort(uniques, kind="stable")
    values = np.asarray(uniques)[order]
    rank_of_code = np.empty(len(order), dtype=np.int64)
    rank_of_code[order] = np.arange(len(order))
    ranks = rank_of_code[codes]
    if limit is None or len(values) <= limit:
        return values, ranks, True
    # Quantiles of the items' values: map each distinct value's rank to a candidate rank.
    counts = np.bincount(ranks.reshape(-1), minlength=len(values))
    cum = np.cumsum(counts)
    targets = np.linspace(0, cum[-1] - 1, limit)
    picks = values[np.unique(np.concatenate([[0], np.searchsorted(cum, targets, side="right")]))]
    value_rank = np.searchsorted(picks, values, side="right") - 1
    return picks, value_rank[ranks.reshape(-1)], False


def _all_points(plan: CascadePlan, ranks: list[np.ndarray], sizes: list[int]) -> dict[str, np.ndarray]:
    """Sums over items of each per-step quantity, at every threshold combination.

    Returns arrays of shape ``(K_0 + 1, ..., K_{k-2} + 1)``: index ``a_s = K_s`` means the step
    never keeps an answer. ``counts[s]``: items keeping step s's answer.
    """
    k = plan.k
    d = k - 1
    n = plan.score.shape[0]
    score = plan.score
    scored = ~np.isnan(score)
    cum_cost = np.cumsum(plan.step_cost, axis=1)
    priced = ~np.isnan(cum_cost)
    out_shape = tuple(K + 1 for K in sizes)
    # Without missing scores (costs) the scored (priced) count is the item count: skip it.
    names = ["score", "cost", "count"]
    if not scored.all():
        names.append("scored")
    if not priced.all():
        names.append("priced")
    totals = {name: np.zeros(out_shape) for name in names if name != "count"}
    counts: list[np.ndarray | None] = [None] * k
    for s in range(k):
        dims = list(range(min(s, d - 1) + 1))
        shape = tuple(sizes[i] for i in dims)
        flat = np.ravel_multi_index([ranks[i] for i in dims], shape) if len(dims) > 1 else ranks[0]
        per = {"score": np.where(scored[:, s], score[:, s], 0.0) if "scored" in names else score[:, s],
               "cost": np.where(priced[:, s], cum_cost[:, s], 0.0) if "priced" in names else cum_cost[:, s],
               "scored": scored[:, s], "priced": priced[:, s], "count": None}
        for name in names:
            if name == "count" and 0 < s == k - 1:
                continue  # the last step's count is what the others leave
            hist = np.bincount(flat, weights=per[name], minlength=int(np.prod(shape))).reshape(shape)
            for axis in dims:
                zeros = np.zeros(hist.shape[:axis] + (1,) + hist.shape[axis + 1:])
                if axis < s:  # earlier step escalated: rank below its threshold rank
                    hist = np.concatenate([zeros, np.cumsum(hist, axis=axis)], axis=axis)
                else:  # this step keeps the answer: rank at or above its threshold rank
                    rev = np.flip(np.cumsum(np.flip(hist, axis=axis), axis=axis), axis=axis)
                    hist = np.concatenate([rev, zeros], axis=axis)
            hist = hist.reshape(hist.shape + (1,) * (d - len(dims)))
            if name == "count":
                counts[s] = np.broadcast_to(hist, out_shape)
            else:
                totals[name] += hist
    counts[k - 1] = n - sum(counts[:k - 1])
    totals["scored"] = totals.get("scored", sum(counts))
    totals["priced"] = totals.get("priced", sum(counts))
    totals["counts"] = counts
    return totals


def cascade_frontier(evalset: EvalSet, models, signal="confidence",
                     max_cells: int = MAX_CELLS) -> FrontierResult:
    """Every operating point of ``Cascade(models, thresholds, signal)`` on ``evalset``.

    The signal is used as given (fit it first if it learns). Raises InputError when a step's
    signal is unavailable (e.g. self-reported confidence on RouterBench).
    """
    signal = signal_from_dict(signal)
    plan = plan_cascade(evalset, models, signal)
    k, n = plan.k, evalset.n_items
    if n == 0:
        raise InputError(f"{evalset.name} has no items")
    per_step = None if k == 2 else max(2, int(max_cells ** (1.0 / (k - 1))))
    cands, ranks, complete = zip(*(_candidates(plan.conf[:, s], per_step) for s in range(k - 1)))
    exhaustive = all(complete)
    sizes = [len(c) for c in cands]
    t = _all_points(plan, list(ranks), sizes)
    grids = np.meshgrid(*[np.arange(K + 1) for K in sizes], indexing="ij")
    with np.errstate(all="ignore"):
        frame = {}
        for s, (grid, cand) in enumerate(zip(grids, cands)):
            never = np.nextafter(cand[-1], np.inf)  # just above the largest value: never keeps
            frame[f"t{s}"] = np.append(cand, never)[grid.ravel()]
        frame["quality"] = (t["score"] / t["scored"]).ravel()
        frame["cost_per_item"] = (t["cost"] / t["priced"]).ravel()
        frame["escalation_rate"] = 1.0 - t["counts"][0].ravel() / n
        for s in range(k):
            frame[f"share_{s}"] = t["counts"][s].ravel() / n
        frame["strong_share"] = frame[f"share_{k - 1}"]
    points = pd.DataFrame(frame)
    points["pareto"] = pareto_front(points["cost_per_item"], points["quality"])

    singles = single_points(evalset)
    singles["in_cascade"] = singles["model"].isin(plan.models)
    oracle = oracle_point(evalset, evalset.models)  # every model of the set, not only the cascade's
    weak = singles.set_index("model").loc[plan.models[0]]
    strong = singles.set_index("model").loc[plan.models[-1]]
    # The RouteLLM curve once (best quality per strong-call share), then the three metrics on it.
    share, quality = share_curve(points["strong_share"].to_numpy(), points["quality"].to_numpy())
    metrics = {
        "weak": plan.models[0], "strong": plan.models[-1],
        "apgr": apgr(share, quality, weak.quality, strong.quality),
        "cpt50": cpt(share, quality, weak.quality, strong.quality, 0.5),
        "cpt80": cpt(share, quality, weak.quality, strong.quality, 0.8),
        "aiq": aiq(points["cost_per_item"], points["quality"], front=points["pareto"]),
    }
    return FrontierResult(plan.models, signal, points, singles, oracle, exhaustive, n, metrics,
                          evalset, plan, list(cands), list(ranks))


def oracle_point(evalset: EvalSet, models) -> dict:
    """Quality and cost per item of :class:`Oracle` over ``models`` (without a full Outcome)."""
    pick = Oracle(models).choose(evalset)
    rows = np.arange(evalset.n_items)
    score, cost = evalset.score[rows, pick], evalset.cost[rows, pick]
    with np.errstate(all="ignore"):
        return {"quality": float(np.nanmean(score)) if (~np.isnan(score)).any() else float("nan"),
                "cost_per_item": float(np.nanmean(cost)) if (~np.isnan(cost)).any() else float("nan")}


def single_points(evalset: EvalSet) -> pd.DataFrame:
    """Quality and cost per item of every model alone (the same numbers as SingleModel)."""
    with np.errstate(all="ignore"):
        scored = (~np.isnan(evalset.score)).sum(axis=0)
        quality = np.where(scored > 0, np.nansum(evalset.score, axis=0) / np.maximum(scored, 1), np.nan)
        priced = (~np.isnan(evalset.cost)).sum(axis=0)
        cost = np.where(priced > 0, np.nansum(evalset.cost, axis=0) / np.maximum(priced, 1), np.nan)
    return pd.DataFrame({"model": list(evalset.models), "quality": quality, "cost_per_item": cost})


def default_cascade(evalset: EvalSet, models=None) -> tuple[list[str], Signal]:
    """Models and signal when the caller names none: cheapest model first, best model last;
    self-reported confidence when every step has it, else agreement with the cheapest others."""
    models = two_models(evalset, models)
    has_conf = all(not np.isnan(evalset.confidence[:, evalset.model_index(m)]).all() for m in models[:-1])
    if has_conf:
        return models, signal_from_dict("confidence")
    return models, Agreement(default_voters(evalset, models))


def default_voters(evalset: EvalSet, models) -> list[str]:
    """Agreement pool for a cascade: its cheap steps plus the best-quality models in the first
    model's price tier (at most 3x its cost), topped up with the cheapest others; 3 in all
    (more when the cascade has more cheap steps). A cheap vote is worth having only if it is
    often right."""
    models = list(models)
    singles = single_points(evalset)
    others = singles[~singles.model.isin(models)].dropna(subset=["quality"])
    first_cost = singles.set_index("model").loc[models[0]].cost_per_item
    tier = others[others.cost_per_item <= 3 * first_cost] if first_cost == first_cost else others[:0]
    voters = (tier.sort_values("quality", ascending=False).model.tolist()
              + others.sort_values("cost_per_item").model.tolist())
    return list(dict.fromkeys(models[:-1] + voters))[:max(3, len(models) - 1)]


def frontier_summary(evalset: EvalSet, models=None, signal=None) -> dict:
    """The JSON of ``python -m core frontier``::

        {"items", "models", "signal", "exhaustive", "n_points",
         "points": [{"thresholds", "quality", "cost_per_item", "escalation_rate", "strong_share"}],
         "pareto": [same, cheapest first], "singles": [{"model", "quality", "cost_per_item",
         "in_cascade"}], "oracle": {"quality", "cost_per_item"},
         "weak", "strong", "apgr", "cpt50", "cpt80", "aiq"}
    """
    if signal is None and not has_cascade_signal(evalset, models):
        from core.routing.mix_frontier import mix_frontier_summary

        chosen = two_models(evalset, models)
        singles = [{"model": r.model, "quality": _num(r.quality), "cost_per_item": _num(r.cost_per_item),
                    "in_cascade": r.model in chosen} for r in single_points(evalset).itertuples(index=False)]
        oracle = {k: _num(v) for k, v in oracle_point(evalset, evalset.models).items()}
        return mix_frontier_summary(evalset, chosen[0], chosen[-1], singles, oracle)
    chosen, auto_signal = default_cascade(evalset, models)
    result = cascade_frontier(evalset, chosen, signal if signal is not None else auto_signal)
    return result.to_dict()


def two_models(evalset: EvalSet, models=None) -> list[str]:
    """The cascade's models: ``models``, else the cheapest and the best-quality model."""
    if models is not None:
        return list(models)
    usable = single_points(evalset).dropna(subset=["quality"])
    if len(usable) < 2:
        raise InputError(f"{evalset.name} needs at least 2 scored models for a cascade")
    best = usable.sort_values(["quality", "cost_per_item"], ascending=[False, True]).iloc[0].model
    return [usable[usable.model != best].sort_values("cost_per_item").iloc[0].model, best]


def has_cascade_signal(evalset: EvalSet, models=None) -> bool:
    """Whether a cascade over ``models`` (default: :func:`two_models`) has a signal without
    fitting: every step's stated confidence, or answers from the first step and at least one
    more model to vote."""
    chosen = two_models(evalset, models)
    if all(not np.isnan(evalset.confidence[:, evalset.model_index(m)]).all() for m in chosen[:-1]):
        return True
    answered = ~pd.isna(evalset.answer_keys[:, evalset.model_index(chosen[0])])
    return bool(answered.any()) and len(default_voters(evalset, chosen)) >= 2


def point_summary(result: FrontierResult, thresholds) -> dict:
    """Everything the tuner shows beside the chart for one threshold setting, O(n·k).

    quality, cost_per_item, escalation_rate, p50/p95/p99 latency, share of answers kept per
    model, calls per model, and savings against the cascade's last (strongest) model alone.
    """
    out = result.outcome(thresholds)
    strong = result.singles.set_index("model").loc[result.models[-1]]
    pct = out.latency_percentiles()
    cost = out.cost_per_item
    saving = (strong.cost_per_item - cost) / strong.cost_per_item if strong.cost_per_item else float("nan")
    return {
        "outcome": out, "quality": out.quality, "cost_per_item": cost,
        "escalation_rate": out.escalation_rate,
        "p50_ms": pct[50], "p95_ms": pct[95], "p99_ms": pct[99],
        "share": {m: s for m, s in out.traffic_share().items() if m in result.models},
        "calls": {m: c for m, c in out.calls().items() if c},
        "strong_model": result.models[-1], "strong_quality": float(strong.quality),
        "strong_cost_per_item": float(strong.cost_per_item), "savings": saving,
    }


def suggested_thresholds(result: FrontierResult, tolerance: float = 0.01) -> list[float]:
    """Where the tuner opens: the cheapest Pareto point within ``tolerance`` of the strong model's
    quality that costs less than the strong model alone; else the best-quality Pareto point that
    does; else the cheapest point. Never a point that pays more than the strong model for no
    more quality (an agreement cascade escalating everything pays the voters on top).

    >>> fr = cascade_frontier(es, ["small", "big"], "confidence")
    >>> suggested_thresholds(fr)
    [0.5]
    """
    front = result.pareto()
    strong = result.singles.set_index("model").loc[result.models[-1]]
    cheaper = front[front["cost_per_item"] < strong.cost_per_item]
    good = cheaper[cheaper["quality"] >= strong.quality - tolerance]
    if len(good):
        row = good.iloc[0]
    elif len(cheaper):
        row = cheaper.sort_values(["quality", "cost_per_item"], ascending=[False, True]).iloc[0]
    else:
        row = front.iloc[0]
    return [float(row[c]) for c in result.threshold_columns]

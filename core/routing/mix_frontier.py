"""The frontier of two models when no signal can tell their answers apart: the hash-split mix.

RouteLLM's setup (a weak and a strong model, no confidence, no third model to vote) has no
cascade signal, so its frontier is the line of :class:`~core.routing.policies.mix.Mix` policies:
``alpha`` of the items (by the hash of their prompt) go to the strong model, the rest to the weak
one. Every point is exactly ``Mix(SingleModel(weak), SingleModel(strong), alpha).evaluate``; the
hash shares are sorted once and every cut is a prefix sum.

>>> import pandas as pd
>>> es = EvalSet.from_arrays("t", ["weak", "strong"], score=[[0, 1], [1, 1], [0, 1], [1, 1]],
...                          cost=[[1, 10]] * 4, items=pd.DataFrame({"item_id": ["i1", "i2", "i3", "i4"]}))
>>> [(p["thresholds"][0], p["quality"], p["cost_per_item"]) for p in mix_points(es, "weak", "strong")][:3]
[(0.0, 0.5, 1.0), (0.406, 0.75, 3.25), (0.732, 0.75, 5.5)]
"""
from __future__ import annotations

import numpy as np

from core.evaluation.evalset import EvalSet
from core.routing.policies.mix import mix_share, split_units
from core.routing.router_metrics import aiq, apgr, cpt, pareto_front, share_curve

MAX_POINTS = 201


def mix_points(evalset: EvalSet, weak: str, strong: str, max_points: int = MAX_POINTS) -> list[dict]:
    """Points ``{"thresholds": [alpha], quality, cost_per_item, escalation_rate, strong_share}``
    of the mix at each distinct cut of the items' hash shares (thinned to ``max_points``)."""
    shares = np.array([mix_share(u) for u in split_units(evalset)])
    order = np.argsort(shares, kind="stable")
    w, s = evalset.model_index(weak), evalset.model_index(strong)
    n = evalset.n_items

    def cum(a: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(a[order])])

    def ok(a):
        return (~np.isnan(a)).astype(float)

    sw, ss = evalset.score[:, w], evalset.score[:, s]
    cw, cs = evalset.cost[:, w], evalset.cost[:, s]
    k = np.arange(n + 1)
    num = cum(np.nan_to_num(ss)) + (cum(np.nan_to_num(sw))[-1] - cum(np.nan_to_num(sw)))
    den = cum(ok(ss)) + (cum(ok(sw))[-1] - cum(ok(sw)))
    cost_num = cum(np.nan_to_num(cs)) + (cum(np.nan_to_num(cw))[-1] - cum(np.nan_to_num(cw)))
    cost_den = cum(ok(cs)) + (cum(ok(cw))[-1] - cum(ok(cw)))
    with np.errstate(invalid="ignore", divide="ignore"):
        quality = np.where(den > 0, num / np.maximum(den, 1e-12), np.nan)
        cost = np.where(cost_den > 0, cost_num / np.maximum(cost_den, 1e-12), np.nan)
    alpha = np.concatenate([[0.0], np.nextafter(shares[order], np.inf)])
    alpha[-1] = 1.0
    keep = np.unique(np.round(np.linspace(0, n, min(max_points, n + 1))).astype(int))
    return [{"thresholds": [round(float(alpha[i]), 3) if 0 < i < n else float(alpha[i])],
             "quality": float(quality[i]), "cost_per_item": float(cost[i]),
             "escalation_rate": 0.0, "strong_share": float(k[i] / max(n, 1))} for i in keep]


def mix_frontier_summary(evalset: EvalSet, weak: str, strong: str, singles: list[dict],
                         oracle: dict) -> dict:
    """:func:`core.routing.frontier.frontier_summary`'s JSON for the mix of ``weak`` and ``strong``."""
    points = mix_points(evalset, weak, strong)
    q = np.array([p["quality"] for p in points])
    c = np.array([p["cost_per_item"] for p in points])
    share = np.array([p["strong_share"] for p in points])
    front = pareto_front(c, q)
    by = {r["model"]: r for r in singles}
    wq, sq = by[weak]["quality"], by[strong]["quality"]
    curve_share, curve_q = share_curve(share, q)
    return {
        "items": evalset.n_items, "models": [weak, strong],
        "signal": {"kind": "mix", "note": "no confidence and no third model to vote: the frontier "
                                          "is the hash-split mix of the two models"},
        "exhaustive": len(points) == evalset.n_items + 1, "n_points": len(points), "points": points,
        "pareto": [p for p, f in zip(points, front) if f], "singles": singles, "oracle": oracle,
        "weak": weak, "strong": strong,
        "apgr": _num(apgr(curve_share, curve_q, wq, sq)),
        "cpt50": _num(cpt(curve_share, curve_q, wq, sq, 0.5)),
        "cpt80": _num(cpt(curve_share, curve_q, wq, sq, 0.8)),
        "aiq": _num(aiq(c, q, front=front)),
    }


def _num(v):
    v = float(v)
    return None if v != v or v in (float("inf"), float("-inf")) else v

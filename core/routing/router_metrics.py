"""Standard router metrics on a set of operating points: Pareto front, APGR, CPT, AIQ.

* **PGR / APGR / CPT**, as RouteLLM defines them (Ong et al., 2024, "RouteLLM: Learning to Route
  LLMs with Preference Data", §5; code ``routellm/evals/evaluate.py``): for a router between a
  weak and a strong model, the performance gap recovered at a point is
  ``PGR = (quality - weak) / (strong - weak)`` as a function of the share of calls sent to the
  strong model. ``APGR`` is the area under the (quality, strong-call share) curve minus the weak
  model's area, over the strong model's area minus the weak model's area (trapezoids over the
  points sorted by share, exactly as ``apgr_metric`` there). ``CPT(x%)`` is the share of strong
  calls needed to reach PGR = x% (``np.interp`` of the target quality on the curve there; here
  the first crossing of the linearly interpolated curve, which is the same when quality rises
  with the share and is still defined when it does not).
* **AIQ**, as RouterBench defines it (Hu et al., 2024, "RouterBench", §4, eq. 2; code
  ``evaluation/AIQ.py``): the area under the router's non-decreasing convex hull in the
  (cost, quality) plane, normalized by the cost range:
  ``AIQ = 1/(c_max - c_min) * integral_{c_min}^{c_max} R~(c) dc``. The hull is the upper convex
  hull (any mix of two operating points is reachable by randomizing between them), kept flat after
  its highest point.

>>> pareto_front([1, 2, 3], [0.5, 0.4, 0.9])
array([ True, False,  True])
>>> round(aiq([0.0, 1.0], [0.5, 1.0]), 3)
0.75
"""
from __future__ import annotations

import numpy as np


def _group_max(x: np.ndarray, y: np.ndarray):
    """Sort by x; per distinct x, the max y. Returns (order, group id per sorted point, distinct
    x, max y per x). One quicksort instead of a two-key lexsort (this runs on millions of points)."""
    order = np.argsort(x, kind="quicksort")
    xs, ys = x[order], y[order]
    starts = np.flatnonzero(np.concatenate([[True], xs[1:] != xs[:-1]]))
    group = np.cumsum(np.concatenate([[False], xs[1:] != xs[:-1]]))
    return order, group, xs[starts], np.maximum.reduceat(ys, starts)


def pareto_front(cost, quality) -> np.ndarray:
    """bool mask of the non-dominated points (lower cost, higher quality); NaN points excluded.

    Of several identical points, one is kept. O(P log P).
    """
    cost = np.asarray(cost, dtype=float)
    quality = np.asarray(quality, dtype=float)
    mask = np.zeros(len(cost), dtype=bool)
    ok = np.flatnonzero(~np.isnan(cost) & ~np.isnan(quality))
    if not len(ok):
        return mask
    order, group, _, gmax = _group_max(cost[ok], quality[ok])
    best_before = np.concatenate([[-np.inf], np.maximum.accumulate(gmax)[:-1]])
    q = quality[ok][order]
    cand = (q == gmax[group]) & (q > best_before[group])
    idx = np.flatnonzero(cand)
    keep = idx[np.concatenate([[True], group[idx][1:] != group[idx][:-1]])] if len(idx) else idx
    mask[ok[order[keep]]] = True
    return mask


def share_curve(share, quality) -> tuple[np.ndarray, np.ndarray]:
    """Upper envelope: best quality at each distinct strong-call share, sorted by share."""
    share = np.asarray(share, dtype=float)
    quality = np.asarray(quality, dtype=float)
    ok = ~np.isnan(share) & ~np.isnan(quality)
    if not ok.any():
        return np.array([]), np.array([])
    share, quality = share[ok], quality[ok]
    if len(share) < 2 or (share[1:] > share[:-1]).all():  # already a curve: nothing to merge
        return share, quality
    _, _, x, q = _group_max(share, quality)
    return x, q


def apgr(share, quality, weak_quality: float, strong_quality: float) -> float:
    """Average performance gap recovered (RouteLLM). NaN when the strong model is not better.

    >>> apgr([0, 0.5, 1], [0.5, 0.9, 1.0], 0.5, 1.0)   # AUC .825; weak .5; strong 1
    0.65
    """
    gap = strong_quality - weak_quality
    x, q = share_curve(share, quality)
    if not gap > 0 or len(x) < 2:
        return float("nan")
    width = x[-1] - x[0]
    area = float(np.sum((x[1:] - x[:-1]) * (q[1:] + q[:-1]) / 2))
    return float(round((area - weak_quality * width) / (gap * width), 12))


def cpt(share, quality, weak_quality: float, strong_quality: float, pgr: float) -> float:
    """Call-performance threshold (RouteLLM): strong-call share needed to recover ``pgr`` of the
    gap (0.5 for CPT(50%)). NaN when never reached or when the strong model is not better.

    >>> cpt([0, 0.5, 1], [0.5, 0.9, 1.0], 0.5, 1.0, 0.5)    # target .75: 3/8 of the way
    0.3125
    """
    gap = strong_quality - weak_quality
    x, q = share_curve(share, quality)
    if not gap > 0 or not len(x):
        return float("nan")
    target = weak_quality + pgr * gap
    hit = np.flatnonzero(q >= target - 1e-12)
    if not len(hit):
        return float("nan")
    i = hit[0]
    if i == 0:
        return float(x[0])
    x0, x1, q0, q1 = x[i - 1], x[i], q[i - 1], q[i]
    return float(x0 + (target - q0) * (x1 - x0) / (q1 - q0))


def _upper_chain(c: np.ndarray, q: np.ndarray) -> list[int]:
    """Andrew's monotone chain, upper part, on points sorted by cost (Python loop: few points)."""
    hull: list[int] = []
    for i in range(len(c)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (c[b] - c[a]) * (q[i] - q[a]) - (q[b] - q[a]) * (c[i] - c[a])
            if cross >= 0:  # b lies on or under the chord a -> i
                hull.pop()
            else:
                break
        hull.append(i)
    return hull


def nondecreasing_hull(cost, quality, front=None) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the upper convex hull from the cheapest point up to the best one
    (``front``: the Pareto mask, when the caller has it already)."""
    front = pareto_front(cost, quality) if front is None else np.asarray(front, dtype=bool)
    c = np.asarray(cost, dtype=float)[front]
    q = np.asarray(quality, dtype=float)[front]
    order = np.argsort(c)
    c, q = c[order], q[order]  # Pareto points: cost and quality both increase
    if len(c) > 2000:
        # Large fronts (a 2-model frontier on a million items has ~10^5 Pareto points): let
        # Qhull find the hull vertices in C, then chain only those.
        from scipy.spatial import ConvexHull, QhullError

        span_c, span_q = (c[-1] - c[0]) or 1.0, (q[-1] - q[0]) or 1.0
        pts = np.column_stack([(c - c[0]) / span_c, (q - q[0]) / span_q])
        try:
            keep = np.unique(np.concatenate([ConvexHull(pts).vertices, [0, len(c) - 1]]))
            c, q = c[keep], q[keep]
        except QhullError:
            pass  # degenerate (collinear) front: the chain below handles it
    hull = _upper_chain(c, q)
    return c[hull], q[hull]


def aiq(cost, quality, cost_range: tuple[float, float] | None = None, front=None) -> float:
    """Average improvement in quality (RouterBench): area under the non-decreasing convex hull
    over ``cost_range`` (default: the points' own cost range), divided by its width."""
    cost = np.asarray(cost, dtype=float)
    quality = np.asarray(quality, dtype=float)
    ok = ~np.isnan(cost) & ~np.isnan(quality)
    if not ok.any():
        return float("nan")
    lo, hi = cost_range if cost_range else (cost[ok].min(), cost[ok].max())
    hc, hq = nondecreasing_hull(cost[ok], quality[ok], None if front is None else np.asarray(front)[ok])
    if hi <= lo:
        return float(hq[-1])
    # Flat after the best point; before the cheapest point nothing is reachable (quality 0).
    xs = np.concatenate([hc, [hi]])
    ys = np.concatenate([hq, [hq[-1]]])
    grid_x = np.clip(xs, lo, hi)
    grid_y = np.interp(grid_x, xs, ys)
    area = float(np.sum((grid_x[1:] - grid_x[:-1]) * (grid_y[1:] + grid_y[:-1]) / 2))
    return float(area / (hi - lo))

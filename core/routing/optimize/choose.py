"""Choosing the plan for a goal on the pooled out-of-fold frontier, with an honest estimate.

1. **Points**: every family's operating points on its out-of-fold ``z`` and the single models
   (:class:`~core.routing.optimize.menu.FrontierTable`); families with no point within three
   standard errors of the hull are left out (speed only).
2. **Hull and mix**: the upper convex hull of all points; a hash split between two adjacent
   vertices (:class:`~core.routing.policies.mix.Mix`) reaches every point between them.
3. **Selection optimism** ``o(t)``: choosing the best of ~100 families and a threshold on the same
   rows flatters the chosen point (the winner's curse: ~0.4 points on ARC, ~0.1 on MMLU). Each of
   B = 200 bootstrap resamples of the rows replays "build the hull, pick the plan for t"; ``o(t)``
   is the mean of (its quality on the resample - its quality on all rows). The plan for ``t`` is
   the cheapest hull mix whose out-of-fold quality reaches ``t + o(t)``; its estimate is that
   quality minus ``o(t)``.
4. **Never below the random mix, significantly**: a learned plan is used only when it is cheaper
   than the mix of two single models reaching ``t`` and its corrected gain over the random mix at
   its own cost exceeds 1.645 bootstrap standard errors (one-sided 95%); otherwise the plan *is*
   that mix of single models, on the random-mix line by construction.
5. **Monotone goals**: the plans for a fixed grid of targets (the out-of-fold hull's range in
   steps of 0.0002, independent of the goal) form the menu; the plan for ``quality >= T`` is the
   cheapest menu plan whose target is at least T, so asking for more quality never returns a
   cheaper plan. Budget goals (``cost<=``, ``share:M<=``) take the best-quality menu plan within
   the budget (more budget: never less quality).

The estimate's 95% interval is the bootstrap percentile interval over the same resamples,
shifted by ``-o``. Costs are not corrected for optimism (measured ~0 on ARC).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.evaluation.intervals import resample_weights
from core.routing.optimize.menu import FrontierTable, hull_ids, plans_on_ids

N_BOOT = 200
GRID_STEP = 0.0002
SIGNIFICANCE = 1.645  # one-sided 95%
PREFILTER_SE = 3.0


@dataclass
class Choice:
    """The chosen plan: vertex ``a`` on ``1 - alpha`` of items, vertex ``b`` on ``alpha`` (point
    ids of ``table``), and what is known about it."""

    table: FrontierTable
    a: int
    b: int
    alpha: float
    estimate: dict
    met: bool
    menu: pd.DataFrame
    hull: np.ndarray  # point ids of the out-of-fold hull
    quality: np.ndarray  # every point's out-of-fold quality, cost and share
    cost: np.ndarray
    share: np.ndarray
    weights: np.ndarray  # the bootstrap resamples [B, n]
    row_score: np.ndarray  # the plan's expected per-row score and cost (the hash split's mean)
    row_cost: np.ndarray

    def vertex(self, point: int) -> tuple[object, float]:
        """(family, threshold) of a point."""
        return self.table.families[self.table.family_of[point]], float(self.table.t[point])


def _prefiltered(families: list, max_points: int) -> FrontierTable:
    table = FrontierTable(families, max_points)
    q, c, _ = table.points()
    h = hull_ids(q, c)
    if len(h) < 2:
        return table
    qh = np.interp(c, c[h], q[h])
    se = np.sqrt(np.clip(qh * (1 - qh), 1e-4, None) / table.n)
    near = set(np.unique(table.family_of[(q >= qh - PREFILTER_SE * se) | table.single]).tolist())
    if len(near) == table.F:
        return table
    return FrontierTable([f for i, f in enumerate(families) if i in near], max_points)


def choose(families: list, goal, target: float | None, n_boot: int = N_BOOT, seed: int = 0,
           correct: bool = True, mix_fallback: bool = True) -> Choice:
    """The plan for ``goal`` (:class:`~core.routing.optimize.goals.Goal`; ``target``: the quality
    a quality goal asks for) among ``families`` (module docstring)."""
    n = len(families[0].z)
    table = _prefiltered(families, int(2 * np.ceil(np.sqrt(n))))
    q0, c0, h0 = table.points()
    singles = np.flatnonzero(table.single)
    W = np.asarray(resample_weights(n, n_boot, seed), dtype=float)
    Wn = W / W.sum(axis=1, keepdims=True)
    hull = hull_ids(q0, c0)
    single_hull = singles[hull_ids(q0[singles], c0[singles])]
    lo, hi = float(q0[hull].min()), float(q0[hull].max())
    grid = np.linspace(lo, hi, max(int(np.ceil((hi - lo) / GRID_STEP)) + 1, 2))
    opt = np.zeros(len(grid))
    if correct and len(hull) > 1:
        QB, CB = table.points_batch(W)
        for q, c in zip(QB, CB):
            ia, ib, al = plans_on_ids(q, c, hull_ids(q, c), grid)
            opt += ((1 - al) * q[ia] + al * q[ib]) - ((1 - al) * q0[ia] + al * q0[ib])
        opt = np.maximum(opt / len(W), 0.0)

    rows_cache: dict[int, tuple] = {}

    def rows(point: int):
        if point not in rows_cache:
            rows_cache[point] = table.rows_of(point)
        return rows_cache[point]

    mix_cost = c0[single_hull]
    records = []
    la, lb, lal = plans_on_ids(q0, c0, hull, grid + opt)
    ma, mb, mal = plans_on_ids(q0, c0, single_hull, grid)
    for g, t in enumerate(grid):
        ia, ib, al = int(la[g]), int(lb[g]), float(lal[g])
        reach = (1 - al) * q0[ia] + al * q0[ib] - opt[g]
        c_l = (1 - al) * c0[ia] + al * c0[ib]
        c_m = (1 - mal[g]) * c0[ma[g]] + mal[g] * c0[mb[g]]
        q_m = (1 - mal[g]) * q0[ma[g]] + mal[g] * q0[mb[g]]
        s_l = (1 - al) * rows(ia)[0] + al * rows(ib)[0]
        j = int(np.clip(np.searchsorted(mix_cost, c_l), 1, len(single_hull) - 1)) if len(single_hull) > 1 else 0
        if len(single_hull) > 1 and mix_cost[j] > mix_cost[j - 1]:
            beta = float(np.clip((c_l - mix_cost[j - 1]) / (mix_cost[j] - mix_cost[j - 1]), 0, 1))
            s_mix = (1 - beta) * rows(single_hull[j - 1])[0] + beta * rows(single_hull[j])[0]
        else:
            s_mix = rows(single_hull[min(j, len(single_hull) - 1)])[0]
        d = np.nan_to_num(s_l) - np.nan_to_num(s_mix)
        gain = float(d.mean()) - opt[g]
        gain_se = float((Wn @ d).std())
        learned = bool(reach >= t - 1e-9 and (not mix_fallback or (c_l < c_m - 1e-15 and gain > SIGNIFICANCE * gain_se)))
        if learned:
            plan = (ia, ib, al, float(opt[g]))
            share = (1 - al) * h0[ia] + al * h0[ib]
        else:
            plan = (int(ma[g]), int(mb[g]), float(mal[g]), 0.0)
            share = (1 - mal[g]) * h0[ma[g]] + mal[g] * h0[mb[g]]
        records.append({"target": float(t), "optimism": float(opt[g]), "learned_quality": float(reach),
                        "learned_cost": float(c_l), "mix_quality": float(q_m), "mix_cost": float(c_m),
                        "gain_vs_mix": gain, "gain_se": gain_se, "use_learned": learned,
                        "quality": float(reach if learned else q_m), "cost": float(c_l if learned else c_m),
                        "share": float(share), "plan": plan})
    menu = pd.DataFrame(records)
    pick, met = _pick(menu, goal, target, lo, hi)
    ia, ib, al, o = menu.at[pick, "plan"]
    sa, ca, _, _ = rows(ia)
    sb, cb, _, _ = rows(ib)
    s, c = (1 - al) * sa + al * sb, (1 - al) * ca + al * cb
    ok = ~np.isnan(s)
    qb = (W @ np.nan_to_num(s)) / np.maximum(W @ ok, 1e-12) - o
    cb_ = (W @ c) / W.sum(axis=1)
    apparent = float(np.nanmean(s))
    estimate = {
        "quality": apparent - o, "quality_ci": [float(np.percentile(qb, 2.5)), float(np.percentile(qb, 97.5))],
        "quality_se": float(qb.std()), "apparent_quality": apparent, "optimism": float(o),
        "cost_per_item": float(np.mean(c)),
        "cost_ci": [float(np.percentile(cb_, 2.5)), float(np.percentile(cb_, 97.5))],
        "share": float(menu.at[pick, "share"]), "used_learned": bool(menu.at[pick, "use_learned"]),
        "gain_vs_random_mix": float(menu.at[pick, "gain_vs_mix"]), "gain_se": float(menu.at[pick, "gain_se"]),
        "grid_target": float(menu.at[pick, "target"]), "n_boot": len(W), "points": len(table),
        "families": table.F,
    }
    return Choice(table, ia, ib, float(al), estimate, met, menu.drop(columns=["plan"]), hull,
                  q0, c0, h0, W, s, c)


def _pick(menu: pd.DataFrame, goal, target: float | None, lo: float, hi: float) -> tuple[int, bool]:
    """Index of the menu plan for ``goal`` and whether it meets it."""
    eps = 1e-9
    if goal.kind in ("match", "quality"):
        # rows whose plan reaches its own target (near the top of the hull, the optimism can put
        # a target out of reach: that row's plan falls back to a lower-quality mix)
        reached = menu[menu["quality"] >= menu["target"] - 1e-9]
        cand = reached[reached["target"] >= max(target, lo) - 1e-12]
        if cand.empty:  # out of reach: the best achievable plan, the cheapest of equals
            pool = reached if not reached.empty else menu
            top = pool["quality"].max()
            best = pool[pool["quality"] >= top - 1e-12]["cost"].idxmin()
        else:
            best = cand["cost"].idxmin()
        return int(best), bool(menu.at[best, "quality"] >= target - eps)
    budget = menu["cost"] if goal.kind == "cost" else menu["share"]
    within = menu[budget <= goal.value + eps]
    if within.empty:
        best = budget.idxmin()
        return int(best), False
    top = within["quality"].max()
    best = within[within["quality"] >= top - eps]["cost"].idxmin()
    return int(best), True

"""Every operating point of every family at once, under any weighting of the rows.

A family (:mod:`core.routing.optimize.families`) keeps its cheap answer on the rows whose
out-of-fold score ``z`` is at least a threshold and escalates the others. Sorting the rows by
``z`` once, every threshold's totals are prefix sums: keeping the top ``k`` rows gives

    quality(k) = (kept scores of rows 1..k + escalated scores of rows k+1..n) / scored rows
    cost(k)    = (kept costs of rows 1..k + escalated costs of rows k+1..n) / n

Thresholds sit midway between consecutive distinct ``z`` (rows with equal ``z`` move together),
thinned to ``2 sqrt(n)`` quantile cuts per family: resolution enough, and less room to fit noise.

:class:`FrontierTable` stacks every family's sorted rows; :meth:`FrontierTable.points` gives every
point's quality, cost and share of calls to one model under row weights ``w`` (a bootstrap
resample) with cumulative sums, and :meth:`FrontierTable.points_batch` does it for many
resamples at once as one sparse product (rows x blocks between cuts).

:func:`hull_ids` is the upper-left convex hull (Andrew's monotone chain on the Pareto points);
:func:`plans_on_ids` reads the cheapest mix of two adjacent hull vertices reaching each target.

>>> import numpy as np
>>> q, c = np.array([0.5, 0.7, 0.6, 0.9]), np.array([1.0, 2.0, 2.5, 4.0])
>>> hull_ids(q, c).tolist()          # (2.5, 0.6) is dominated
[0, 1, 3]
>>> a, b, alpha = plans_on_ids(q, c, hull_ids(q, c), [0.8])
>>> int(a[0]), int(b[0]), round(float(alpha[0]), 3)   # halfway from 0.7 to 0.9
(1, 3, 0.5)
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

COLUMNS = ("ks", "kok", "es", "eok", "kc", "ec", "kh", "eh")  # kept/escalated score, scored, cost, share


def cuts_of(z: np.ndarray, max_points: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Row order (z descending, stable) and the cut positions k (rows kept) where z changes."""
    n = len(z)
    order = np.argsort(-z, kind="stable")
    zs = z[order]
    cuts = np.flatnonzero(np.concatenate([[True], zs[1:] != zs[:-1], [True]]))
    if max_points and len(cuts) > max_points:
        want = np.unique(np.round(np.linspace(0, n, max_points)).astype(int))
        cuts = np.unique(cuts[np.clip(np.searchsorted(cuts, want), 0, len(cuts) - 1)])
    return order, cuts


def thresholds_at(zs: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Threshold of each cut: midway between the last kept and the first escalated z (+inf keeps
    nothing, -inf keeps everything)."""
    n = len(zs)
    with np.errstate(invalid="ignore"):
        mid = (zs[np.maximum(cuts - 1, 0)] + zs[np.minimum(cuts, n - 1)]) / 2
    return np.where(cuts == 0, np.inf, np.where(cuts >= n, -np.inf, mid))


class FrontierTable:
    """All families' rows sorted by their z, stacked; every point evaluable under row weights.

    ``families``: objects with ``keep``/``escalate`` arms (``score``, ``cost``, ``share``
    arrays) and ``z``; one-point families (``one_point``: a model alone, a task table) have no
    threshold; ``single`` marks the models alone (the random-mix line).
    """

    def __init__(self, families: list, max_points: int | None = None):
        self.families = list(families)
        n = len(self.families[0].z)
        order, cuts, thresholds, singles = [], [], [], []
        cols = {k: [] for k in COLUMNS}
        for f in self.families:
            if f.one_point:
                o, c = np.arange(n), np.array([n])
                t = np.array([-np.inf])
            else:
                o, c = cuts_of(f.z, max_points)
                t = thresholds_at(f.z[o], c)
            order.append(o)
            cuts.append(c)
            thresholds.append(t)
            singles.append(np.full(len(c), f.single))
            ks, es = f.keep.score[o], f.escalate.score[o]
            for key, v in (("ks", np.nan_to_num(ks)), ("kok", ~np.isnan(ks)), ("es", np.nan_to_num(es)),
                           ("eok", ~np.isnan(es)), ("kc", f.keep.cost[o]), ("ec", f.escalate.cost[o]),
                           ("kh", f.keep.share[o]), ("eh", f.escalate.share[o])):
                cols[key].append(np.asarray(v, dtype=float))
        self.n, self.F = n, len(self.families)
        self.order = np.concatenate(order)
        self.cols = {k: np.concatenate(v) for k, v in cols.items()}
        self.family_of = np.concatenate([np.full(len(c), i) for i, c in enumerate(cuts)])
        self.cut = np.concatenate(cuts)
        self.t = np.concatenate(thresholds)
        self.single = np.concatenate(singles)
        self._blocks = None

    def __len__(self) -> int:
        return len(self.cut)

    def points(self, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(quality, cost, share) of every point under row weights ``w`` (None: all ones)."""
        F, n = self.F, self.n
        ww = np.ones(F * n) if w is None else np.asarray(w, dtype=float)[self.order]
        off = np.arange(F) * (n + 1)
        p = off[self.family_of] + self.cut
        e = off[self.family_of] + n

        def cums(a):
            c = np.cumsum((a * ww).reshape(F, n), axis=1)
            return np.concatenate([np.zeros((F, 1)), c], axis=1).ravel()

        S = {k: cums(v) for k, v in self.cols.items()}
        total = ww.reshape(F, n)[0].sum()
        num = S["ks"][p] + S["es"][e] - S["es"][p]
        den = S["kok"][p] + S["eok"][e] - S["eok"][p]
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.where(den > 0, num / np.maximum(den, 1e-12), np.nan)
        c = (S["kc"][p] + S["ec"][e] - S["ec"][p]) / total
        h = (S["kh"][p] + S["eh"][e] - S["eh"][p]) / total
        return q, c, h

    def _block_matrices(self):
        """Sparse (rows x blocks) matrices, a block being one family's rows between two cuts."""
        if self._blocks is not None:
            return self._blocks
        F, n = self.F, self.n
        rows, blk, first, pref = [], [], [], []
        nblocks = 0
        for f in range(F):
            fam_cuts = self.cut[self.family_of == f]
            bounds = np.unique(np.concatenate([[0], fam_cuts, [n]]))
            local = np.searchsorted(bounds, np.arange(n), side="right") - 1
            rows.append(self.order[f * n:(f + 1) * n])
            blk.append(nblocks + local)
            first.append(nblocks)
            pref.append(nblocks + np.searchsorted(bounds, fam_cuts))
            nblocks += len(bounds) - 1
        rows, blk = np.concatenate(rows), np.concatenate(blk)
        M = {k: sp.csr_matrix((v, (rows, blk)), shape=(n, nblocks)) for k, v in self.cols.items()}
        first = np.array(first)
        last = np.append(first[1:], nblocks)
        self._blocks = (M, np.concatenate(pref), first[self.family_of], last[self.family_of])
        return self._blocks

    def points_batch(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(quality, cost) ``[B, points]`` under each row of weights ``W`` ``[B, n]``."""
        M, pidx, start, end = self._block_matrices()
        out = {}
        Wt = np.asarray(W, dtype=float).T
        for k in ("ks", "kok", "es", "eok", "kc", "ec"):
            S = np.asarray(M[k].T @ Wt).T
            C = np.concatenate([np.zeros((S.shape[0], 1)), np.cumsum(S, axis=1)], axis=1)
            out[k] = (C[:, pidx] - C[:, start], C[:, end] - C[:, start])
        num = out["ks"][0] + out["es"][1] - out["es"][0]
        den = out["kok"][0] + out["eok"][1] - out["eok"][0]
        q = num / np.maximum(den, 1e-12)
        c = (out["kc"][0] + out["ec"][1] - out["ec"][0]) / np.asarray(W, dtype=float).sum(axis=1, keepdims=True)
        return q, c

    def rows_of(self, point: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-row (score, cost, share, kept) of one point, in the eval set's row order."""
        f = self.families[self.family_of[point]]
        keep = np.ones(self.n, dtype=bool) if f.one_point else f.z >= self.t[point]
        return (np.where(keep, f.keep.score, f.escalate.score), np.where(keep, f.keep.cost, f.escalate.cost),
                np.where(keep, f.keep.share, f.escalate.share), keep)


def hull_ids(q: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Point ids of the upper-left convex hull, cost and quality increasing along it."""
    ok = np.flatnonzero(~np.isnan(q) & ~np.isnan(c))
    o = ok[np.lexsort((-q[ok], c[ok]))]
    qs = q[o]
    best = np.maximum.accumulate(qs)
    pareto = np.concatenate([[True], qs[1:] > best[:-1] + 1e-12]) if len(qs) else np.zeros(0, bool)
    h: list[int] = []
    for i in o[pareto]:
        while len(h) >= 2:
            a, b = h[-2], h[-1]
            if (c[b] - c[a]) * (q[i] - q[a]) - (q[b] - q[a]) * (c[i] - c[a]) >= 0:
                h.pop()
            else:
                break
        h.append(int(i))
    return np.array(h, dtype=np.int64)


def plans_on_ids(q: np.ndarray, c: np.ndarray, h: np.ndarray, targets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per target: (vertex a, vertex b, alpha) of the cheapest mix on hull ``h`` reaching it;
    below the hull's start its first vertex, above its end its last (alpha = 0)."""
    targets = np.atleast_1d(np.asarray(targets, dtype=float))
    qh = q[h]
    i = np.searchsorted(qh, targets - 1e-12)
    lo, hi = np.clip(i - 1, 0, len(h) - 1), np.clip(i, 0, len(h) - 1)
    a, b = h[lo], h[hi]
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(b != a, (targets - q[a]) / (q[b] - q[a]), 0.0)
    edge_lo, edge_hi = i == 0, i >= len(h)
    alpha = np.where(edge_lo | edge_hi, 0.0, alpha)
    a = np.where(edge_lo, h[0], np.where(edge_hi, h[-1], a))
    b = np.where(edge_lo, h[0], np.where(edge_hi, h[-1], b))
    return a, b, np.clip(alpha, 0.0, 1.0)

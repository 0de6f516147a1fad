"""Confidence intervals: the one place every figure's interval comes from.

* a share (0/1 scores, error rates): Wilson's score interval, closed form (numpy only);
* a mean (graded scores, costs): Student's t interval (scipy.special, imported on use);
* a ratio of sums over items (a policy's quality and cost per item on an eval set): a
  percentile bootstrap whose resamples are drawn once per (items, seed) and reused, so
  moving a threshold costs one matrix product, not a fresh resample; above
  :data:`MAX_BOOT_CELLS` resampled values the normal approximation of the same ratio is used
  (its sampling error is then far below the interval's width).

>>> low, high = wilson(np.array([45.0]), np.array([50.0]))
>>> round(float(low[0]), 3), round(float(high[0]), 3)
(0.786, 0.957)
>>> low, high = mean_interval(np.array([0.5]), np.array([0.2]), np.array([4]))
>>> round(float(low[0]), 4), round(float(high[0]), 4)
(0.1818, 0.8182)
"""
from __future__ import annotations

from functools import lru_cache
from statistics import NormalDist

import numpy as np

ALPHA = 0.05
N_BOOT = 1000
MAX_BOOT_CELLS = 8_000_000  # resample weights kept per eval set: 64 MB of float64 at most


def normal_quantile(alpha: float = ALPHA) -> float:
    """The two-sided normal quantile z_{1 - alpha/2} (1.96 for alpha = 0.05)."""
    return NormalDist().inv_cdf(1 - alpha / 2)


def t_quantile(df, alpha: float = ALPHA) -> np.ndarray:
    """Student's t quantile t_{1 - alpha/2, df}, vectorised."""
    from scipy.special import stdtrit

    return stdtrit(np.asarray(df, dtype=float), 1 - alpha / 2)


def wilson(successes, n, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``successes / n``, vectorised (NaN where ``n`` is 0)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = normal_quantile(alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    bad = ~(n > 0)
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def mean_interval(mean, sd, n, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Student's t interval of a mean from its sample sd and count (NaN below 2 values; a
    constant sample's interval is the point itself)."""
    mean, sd, n = (np.asarray(a, dtype=float) for a in (mean, sd, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        half = t_quantile(np.maximum(n - 1, 1), alpha) * sd / np.sqrt(n)
    half = np.where(n >= 2, np.where(sd > 0, half, 0.0), np.nan)
    return mean - half, mean + half


@lru_cache(maxsize=4)
def resample_weights(n: int, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """How often each of ``n`` items appears in each of ``n_boot`` bootstrap resamples
    (``[n_boot, n]`` float64 counts, each row summing to ``n``). Drawn once per arguments, so an
    eval set's resamples are drawn once and every interval on it is one matrix product.

    Row ``b`` counts the draws ``default_rng(seed).integers(0, n, size=(n_boot, n))[b]``: the
    classic bootstrap's resample ``b`` (:func:`resample_indices`).
    """
    offsets = (np.arange(n_boot) * n)[:, None]
    counts = np.bincount((resample_indices(n, n_boot, seed) + offsets).ravel(), minlength=n_boot * n)
    weights = counts.reshape(n_boot, n).astype(np.float64)
    weights.flags.writeable = False
    return weights


def resample_indices(n: int, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """The items drawn (with replacement) by each of ``n_boot`` seeded bootstrap resamples,
    ``[n_boot, n]``."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def bootstrap_ratios(values: np.ndarray, n_boot: int = N_BOOT, seed: int = 0,
                     level: float = 0.95) -> list[tuple[float, float]]:
    """Percentile intervals of ``nanmean`` of each column of ``values`` (``[n, m]``; items with NaN
    left out of that column, as the figure itself leaves them out), all from one product with the
    shared resample weights: resample ``b``'s mean is ``(W @ x)[b] / (W @ known)[b]``."""
    values = np.asarray(values, dtype=float)
    n, m = values.shape
    known = ~np.isnan(values)
    x = np.where(known, values, 0.0)
    tail = (1 - level) / 2 * 100
    out = [(float("nan"), float("nan"))] * m
    if n * n_boot > MAX_BOOT_CELLS:  # large: the normal approximation of the same ratio
        k = known.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = x.sum(axis=0) / k
            sd = np.sqrt(((x - mean) ** 2 * known).sum(axis=0) / np.maximum(k - 1, 1))
            half = normal_quantile(1 - level) * sd / np.sqrt(k)
        return [(float(lo), float(hi)) if kk else out[0]
                for lo, hi, kk in zip(mean - half, mean + half, k)]
    sums = resample_weights(n, n_boot, seed) @ np.hstack([x, known.astype(float)])
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = sums[:, :m] / sums[:, m:]
    for j in range(m):
        col = stats[:, j][~np.isnan(stats[:, j])]
        if known[:, j].any() and len(col):
            low, high = np.percentile(col, [tail, 100 - tail])
            out[j] = (float(low), float(high))
    return out


def bootstrap_ratio(values: np.ndarray, n_boot: int = N_BOOT, seed: int = 0,
                    level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of ``nanmean(values)`` (:func:`bootstrap_ratios` of one column)."""
    return bootstrap_ratios(np.asarray(values, dtype=float)[:, None], n_boot, seed, level)[0]


def bootstrap_interval(score: np.ndarray, cost: np.ndarray, n_boot: int = N_BOOT,
                       seed: int | None = 0, level: float = 0.95) -> dict:
    """Percentile bootstrap intervals for a policy's quality and cost per item, from its
    per-item scores and costs (NaN = not scored / not priced): one product with the eval set's
    resample weights.

    >>> out = bootstrap_interval(np.array([1.0, 0.0] * 50), np.full(100, 0.002))
    >>> [round(x, 2) for x in out["quality"]], [round(x, 6) for x in out["cost_per_item"]]
    ([0.4, 0.6], [0.002, 0.002])
    """
    seed = 0 if seed is None else seed
    if len(score) == 0:
        nan = (float("nan"), float("nan"))
        return {"quality": nan, "cost_per_item": nan, "n_boot": 0, "level": level}
    quality, cost_iv = bootstrap_ratios(np.column_stack([score, cost]), n_boot, seed, level)
    return {"quality": quality, "cost_per_item": cost_iv, "n_boot": n_boot, "level": level}


def roc_auc(correct, score) -> tuple[float, float]:
    """Area under the ROC curve of ``score`` for telling right answers (``correct >= 0.5``) from
    wrong ones, and its standard error (Hanley & McNeil, 1982). Rows with a NaN are left out;
    ties count one half. NaN when one class is absent.

    A signal helps only where ``auc - 1.96 * se > 0.5`` (:func:`signal_helps`).

    >>> auc, se = roc_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.5, 0.1]))
    >>> auc, round(se, 3)
    (0.75, 0.276)
    """
    from scipy.stats import rankdata

    y = np.asarray(correct, dtype=float)
    s = np.asarray(score, dtype=float)
    ok = ~np.isnan(y) & ~np.isnan(s)
    pos, s = y[ok] >= 0.5, s[ok]
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan"), float("nan")
    ranks = rankdata(s)
    auc = (ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc * auc) + (n0 - 1) * (q2 - auc * auc)) / (n1 * n0)
    return float(auc), float(np.sqrt(max(var, 0.0)))


def signal_helps(auc: float, se: float, alpha: float = ALPHA) -> bool:
    """Whether a signal ranks right answers above wrong ones beyond chance: the lower end of its
    AUC's two-sided ``1 - alpha`` interval is above 0.5.

    >>> signal_helps(0.75, 0.05), signal_helps(0.55, 0.04), signal_helps(float("nan"), 0.1)
    (True, False, False)
    """
    return bool(auc - normal_quantile(alpha) * se > 0.5) if auc == auc and se == se else False

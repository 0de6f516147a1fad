"""Always-valid inference: confidence sequences a PM may look at every day.

A fixed-horizon interval is right once, at the sample size it was planned for; looked at after
every batch of requests it excludes the truth far more often than its alpha says (about one
experiment in four with twenty looks, see :func:`peeking_false_positive_rate`). A confidence
sequence holds at every sample size at once: the chance that it *ever* excludes the truth is at
most alpha, however often it is read.

The boundary is the two-sided normal mixture of Robbins (1970) as given by Howard, Ramdas,
McAuliffe and Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences",
Annals of Statistics 49(2), 2021, eq. (14), used with the CLT as in Waudby-Smith et al.,
"Time-uniform central limit theory and asymptotic confidence sequences" (2021), Prop. 2.1.
For an estimate ``D`` whose variance is ``v`` (information ``V = 1/v``; ``S = D·V`` behaves as
a Brownian motion in ``V``), with ``P(∃V: |S - θV| ≥ b(V)) ≤ alpha`` for

    b(V) = sqrt( (V + ρ) · log( (V + ρ) / (ρ · alpha²) ) )

so the radius around ``D`` is ``b(V) / V = sqrt( v · (1 + ρv) · log( (1 + ρv) / (ρ v alpha²) ) )``.
``ρ`` sets where the sequence is tightest: ``ρ = V* / (-2 log alpha + log(1 - 2 log alpha))``
makes it tightest at the planned information ``V*`` (Waudby-Smith et al., eq. (8)).

    >>> r = radius(variance=0.25 / 100, alpha=0.05, planned_info=100 / 0.25)
    >>> round(r, 4)      # wider than the fixed-horizon 1.96 * 0.05 = 0.098
    0.1518
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_PLANNED_N = 500  # per arm, where the sequence is tightest when no sample size is known


@dataclass(frozen=True)
class Sequence:
    """An always-valid estimate: ``low <= estimate <= high`` at confidence ``1 - alpha``."""

    estimate: float
    low: float
    high: float
    n: int
    alpha: float

    def to_dict(self) -> dict:
        return {"estimate": finite(self.estimate), "low": finite(self.low), "high": finite(self.high),
                "n": int(self.n), "alpha": self.alpha}


def radius(variance, alpha: float = 0.05, planned_info: float | None = None):
    """Half-width of the normal-mixture confidence sequence for an estimate of ``variance``
    (numpy arrays allowed). ``planned_info``: 1 / the variance expected at the planned sample
    size (default: :data:`DEFAULT_PLANNED_N` observations of unit variance)."""
    v = np.asarray(variance, dtype=float)
    planned = np.asarray(DEFAULT_PLANNED_N if planned_info is None else planned_info, dtype=float)
    la = -2.0 * math.log(alpha)
    rho = planned / (la + math.log(1.0 + la))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sqrt(v * (1.0 + rho * v) * np.log((1.0 + rho * v) / (rho * v * alpha ** 2)))
    out = np.where(v > 0, out, np.where(v == 0, 0.0, np.nan))
    return float(out) if out.ndim == 0 else out


def finite(x) -> float | None:
    """``x`` as a float, None when it is not a finite number (JSON-safe)."""
    return None if x is None or not math.isfinite(x) else float(x)


def _mean_var(x: np.ndarray) -> tuple[float, float]:
    n = len(x)
    if n < 2:
        return (float(x.mean()) if n else math.nan), math.nan
    return float(x.mean()), float(x.var(ddof=1)) / n


def difference(candidate, control, alpha: float = 0.05, scale: float = 1.0, shift: float = 0.0,
               planned_n: int | None = None, binary: bool = False) -> Sequence:
    """Always-valid sequence for ``mean(candidate) - scale * mean(control) - shift``.

    ``scale`` 1.5 and ``shift`` 0 test "candidate above 1.5x control"; a binary metric (errors,
    0/1 quality) adds one success and one failure to each arm for its variance only, so an arm
    with no errors yet still has an honest width.

    >>> s = difference([1, 1, 1, 0] * 50, [1, 0] * 100, binary=True)
    >>> round(s.estimate, 2), s.low > 0
    (0.25, True)
    """
    b = np.asarray(candidate, dtype=float)
    a = np.asarray(control, dtype=float)
    b, a = b[np.isfinite(b)], a[np.isfinite(a)]
    n = min(len(a), len(b))
    if len(a) < 2 or len(b) < 2:
        return Sequence(math.nan, math.nan, math.nan, n, alpha)
    mb, vb = _mean_var(b)
    ma, va = _mean_var(a)
    if binary:
        pa, pb = (a.sum() + 1) / (len(a) + 2), (b.sum() + 1) / (len(b) + 2)
        va, vb = pa * (1 - pa) / len(a), pb * (1 - pb) / len(b)
    var = vb + scale ** 2 * va
    unit = (b.var(ddof=1) + scale ** 2 * a.var(ddof=1)) if not binary else var * n
    planned = (planned_n or DEFAULT_PLANNED_N) / max(unit, 1e-12)
    est = mb - scale * ma - shift
    r = radius(var, alpha, planned)
    return Sequence(est, est - r, est + r, n, alpha)


def proportion(successes: int, n: int, alpha: float = 0.05, planned_n: int | None = None) -> Sequence:
    """Always-valid sequence for a share (variance with one added success and failure)."""
    if n < 1:
        return Sequence(math.nan, math.nan, math.nan, 0, alpha)
    p = successes / n
    pt = (successes + 1) / (n + 2)
    var = pt * (1 - pt) / n
    r = radius(var, alpha, (planned_n or DEFAULT_PLANNED_N) / max(pt * (1 - pt), 1e-12))
    return Sequence(p, max(0.0, p - r), min(1.0, p + r), n, alpha)


def required_per_arm(sd: float, effect: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Requests per arm for the confidence sequence to exclude 0 with probability ``power`` when
    the true difference is ``effect`` (per-request standard deviation ``sd`` in each arm):
    the smallest n where the expected estimate clears the radius by the normal power margin."""
    from scipy.stats import norm

    if not (sd > 0 and effect > 0):
        return None
    z = float(norm.ppf(power))
    lo, hi = 2, 2
    while True:
        var = 2 * sd * sd / hi
        if effect - z * math.sqrt(var) >= radius(var, alpha, hi / (2 * sd * sd)):
            break
        lo, hi = hi, hi * 2
        if hi > 10 ** 10:
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        var = 2 * sd * sd / mid
        if effect - z * math.sqrt(var) >= radius(var, alpha, mid / (2 * sd * sd)):
            hi = mid
        else:
            lo = mid
    return int(hi)


def peeking_false_positive_rate(n_experiments: int = 1000, looks: int = 20, batch: int = 100,
                                p: float = 0.8, alpha: float = 0.05, seed: int = 0) -> dict[str, float]:
    """Simulated A/A experiments (both arms Bernoulli(p)), checked after every ``batch`` requests
    per arm: the share in which the confidence sequence ever excluded 0, beside the share in which
    a fixed-horizon test (scipy's two-sample t-test, p < alpha) ever rejected."""
    from scipy.stats import ttest_ind_from_stats

    rng = np.random.default_rng(seed)
    ns = np.arange(1, looks + 1) * batch
    ca = np.cumsum(rng.binomial(batch, p, (n_experiments, looks)), axis=1)
    cb = np.cumsum(rng.binomial(batch, p, (n_experiments, looks)), axis=1)
    pa, pb = ca / ns, cb / ns
    pta, ptb = (ca + 1) / (ns + 2), (cb + 1) / (ns + 2)
    var = pta * (1 - pta) / ns + ptb * (1 - ptb) / ns
    r = radius(var, alpha, DEFAULT_PLANNED_N / (pta * (1 - pta) + ptb * (1 - ptb)))
    seq_reject = (np.abs(pb - pa) > r).any(axis=1)
    sa, sb = np.sqrt(pa * (1 - pa) * ns / (ns - 1)), np.sqrt(pb * (1 - pb) * ns / (ns - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        pv = ttest_ind_from_stats(pb, sb, ns, pa, sa, ns, equal_var=False).pvalue
    naive_reject = (np.nan_to_num(pv, nan=1.0) < alpha).any(axis=1)
    return {"sequential": float(seq_reject.mean()), "fixed_horizon": float(naive_reject.mean()),
            "experiments": n_experiments, "looks": looks, "batch": batch, "alpha": alpha}


if __name__ == "__main__":  # python -m core.experiments.sequential: the peeking simulation
    print(peeking_false_positive_rate())

"""Statistics for A/B and shadow comparisons, on top of scipy and statsmodels.

Every comparison returns a :class:`Comparison`: both estimates, the difference
``candidate - control`` with a confidence interval, a p-value and the name of the test used, so
pages, memos and saved results show the same numbers::

    >>> c = diff_proportions(60, 100, 50, 100)          # candidate 60/100, control 50/100
    >>> round(c.diff, 2), c.test, round(c.p_value, 4)
    (0.1, 'two-proportion z-test', 0.1552)

Which test fits which metric:

* 0/1 scores (accuracy), error rates: two proportions (``proportions_ztest`` for the p-value,
  Newcomb's interval from ``confint_proportions_2indep``); per-arm Wilson intervals.
* graded scores, cost per item, mean latency: Welch's t-test (``ttest_ind(equal_var=False)``).
* percentiles (p95 latency): a percentile bootstrap (``scipy.stats.bootstrap``), because no
  closed form exists for a difference of percentiles.
* paired data (shadow: both policies on the same items): McNemar for 0/1, paired t otherwise;
  one-sided (``paired_drop``) for the regression gate: is the candidate worse?
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from core.evaluation.intervals import mean_interval, wilson

# scipy.stats and statsmodels take seconds to import: each test imports them when it runs.

NAN = float("nan")


@dataclass(frozen=True)
class Estimate:
    """One arm's value of a metric with its 95% interval (``n`` observations)."""

    value: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict:
        return _clean(asdict(self))


@dataclass(frozen=True)
class Comparison:
    """Candidate against control on one metric: ``diff = candidate - control``."""

    metric: str
    control: float
    candidate: float
    diff: float
    low: float  # confidence interval of diff
    high: float
    p_value: float
    test: str
    n_control: int
    n_candidate: int

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return bool(self.low > 0 or self.high < 0)

    def to_dict(self) -> dict:
        return _clean(asdict(self))


def _clean(d: dict) -> dict:
    """NaN -> None so results serialize to strict JSON."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def _finite(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x[~np.isnan(x)]


def is_binary(*arrays) -> bool:
    """True when every non-missing value is exactly 0 or 1.

    >>> is_binary([0, 1, 1.0, float("nan")]), is_binary([0, 0.5])
    (True, False)
    """
    vals = np.concatenate([_finite(a) for a in arrays]) if arrays else np.array([])
    return bool(len(vals)) and bool(np.isin(vals, (0.0, 1.0)).all())


# -- one arm -----------------------------------------------------------------------------------
def proportion_estimate(successes: int, n: int, alpha: float = 0.05) -> Estimate:
    """Share with a Wilson interval (good at small n and near 0 or 1).

    >>> e = proportion_estimate(45, 50)
    >>> round(e.value, 2), round(e.low, 3), round(e.high, 3)
    (0.9, 0.786, 0.957)
    """
    if n <= 0:
        return Estimate(NAN, NAN, NAN, 0)
    low, high = wilson(successes, n, alpha)
    return Estimate(successes / n, float(low), float(high), int(n))


def mean_estimate(values, alpha: float = 0.05) -> Estimate:
    """Mean with a Student-t interval (missing values excluded)."""
    x = _finite(values)
    n = len(x)
    if n == 0:
        return Estimate(NAN, NAN, NAN, 0)
    m = float(x.mean())
    if n == 1 or np.all(x == x[0]):
        return Estimate(m, m, m, n)
    low, high = mean_interval(m, x.std(ddof=1), n, alpha)
    return Estimate(m, float(low), float(high), n)


def score_estimate(scores, alpha: float = 0.05) -> Estimate:
    """Quality of one arm: Wilson for 0/1 scores, t-interval for graded ones."""
    x = _finite(scores)
    if is_binary(x):
        return proportion_estimate(int(x.sum()), len(x), alpha)
    return mean_estimate(x, alpha)


# -- two independent arms ----------------------------------------------------------------------
def diff_proportions(success_candidate: int, n_candidate: int, success_control: int, n_control: int,
                     alpha: float = 0.05, metric: str = "quality") -> Comparison:
    """Two proportions: z-test p-value and Newcomb interval for ``p_candidate - p_control``."""
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    if min(n_candidate, n_control) <= 0:
        return Comparison(metric, NAN, NAN, NAN, NAN, NAN, NAN, "two-proportion z-test",
                          int(n_control), int(n_candidate))
    p_b, p_a = success_candidate / n_candidate, success_control / n_control
    counts = np.array([success_candidate, success_control])
    nobs = np.array([n_candidate, n_control])
    if counts.sum() in (0, nobs.sum()):
        p_value = 1.0  # both arms all-0 or all-1: no evidence of a difference (z is 0/0)
    else:
        _, p_value = proportions_ztest(counts, nobs)
    low, high = confint_proportions_2indep(success_candidate, n_candidate, success_control, n_control,
                                           method="newcomb", compare="diff", alpha=alpha)
    return Comparison(metric, p_a, p_b, p_b - p_a, float(low), float(high), float(p_value),
                      "two-proportion z-test", int(n_control), int(n_candidate))


def welch(candidate, control, alpha: float = 0.05, metric: str = "value") -> Comparison:
    """Welch's t-test and interval for ``mean(candidate) - mean(control)``."""
    from scipy import stats as sps

    b, a = _finite(candidate), _finite(control)
    if len(a) < 2 or len(b) < 2:
        mb = float(b.mean()) if len(b) else NAN
        ma = float(a.mean()) if len(a) else NAN
        return Comparison(metric, ma, mb, mb - ma, NAN, NAN, NAN, "Welch t-test", len(a), len(b))
    diff = float(b.mean() - a.mean())
    if np.ptp(b) == 0 and np.ptp(a) == 0:
        # Constant arms: the difference is exact.
        return Comparison(metric, float(a.mean()), float(b.mean()), diff, diff, diff,
                          1.0 if diff == 0 else 0.0, "Welch t-test", len(a), len(b))
    with warnings.catch_warnings():
        # one constant arm (e.g. a flat price) is fine for Welch; scipy warns about precision
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.ttest_ind(b, a, equal_var=False)
    ci = res.confidence_interval(confidence_level=1 - alpha)
    return Comparison(metric, float(a.mean()), float(b.mean()), diff, float(ci.low), float(ci.high),
                      float(res.pvalue), "Welch t-test", len(a), len(b))


def compare_scores(candidate, control, alpha: float = 0.05, metric: str = "quality") -> Comparison:
    """Quality difference: two proportions for 0/1 scores, Welch for graded ones."""
    b, a = _finite(candidate), _finite(control)
    if is_binary(a, b):
        return diff_proportions(int(b.sum()), len(b), int(a.sum()), len(a), alpha, metric)
    return welch(b, a, alpha, metric)


def bootstrap_percentile_diff(candidate, control, q: float = 95, alpha: float = 0.05,
                              n_resamples: int = 1000, seed: int = 0,
                              metric: str | None = None) -> Comparison:
    """Difference of the ``q``-th percentiles with a percentile-bootstrap interval.

    The p-value is the two-sided bootstrap share of resampled differences on the far side of 0.
    """
    from scipy import stats as sps

    metric = metric or f"p{q:g}"
    b, a = _finite(candidate), _finite(control)
    if len(a) < 2 or len(b) < 2:
        pb = float(np.percentile(b, q)) if len(b) else NAN
        pa = float(np.percentile(a, q)) if len(a) else NAN
        return Comparison(metric, pa, pb, pb - pa, NAN, NAN, NAN, "bootstrap", len(a), len(b))
    pb, pa = float(np.percentile(b, q)), float(np.percentile(a, q))

    def stat(x, y, axis=-1):
        return np.percentile(x, q, axis=axis) - np.percentile(y, q, axis=axis)

    # Batches bound memory on large arms (n_resamples × n floats at a time).
    batch = max(1, min(n_resamples, int(2e7 // max(len(a), len(b)))))
    res = sps.bootstrap((b, a), stat, n_resamples=n_resamples, vectorized=True, paired=False,
                        confidence_level=1 - alpha, method="percentile", batch=batch,
                        rng=np.random.default_rng(seed))
    dist = res.bootstrap_distribution
    p_value = float(min(1.0, 2 * min((dist <= 0).mean(), (dist >= 0).mean())))
    return Comparison(metric, pa, pb, pb - pa, float(res.confidence_interval.low),
                      float(res.confidence_interval.high), p_value, "bootstrap", len(a), len(b))


# -- paired (shadow) ---------------------------------------------------------------------------
def _pairs(candidate, production) -> tuple[np.ndarray, np.ndarray]:
    """Candidate and production values of the items where both are present."""
    b, a = np.asarray(candidate, float), np.asarray(production, float)
    both = ~np.isnan(a) & ~np.isnan(b)
    return b[both], a[both]


def _paired_t_p(b: np.ndarray, a: np.ndarray) -> float:
    """Paired t-test p-value; a constant difference is certain (0 equal -> 1.0, else 0.0)."""
    from scipy import stats as sps

    d = b - a
    if len(d) > 1 and np.ptp(d) > 0:
        return float(sps.ttest_rel(b, a).pvalue)
    return 1.0 if (d == 0).all() else 0.0


def paired_scores(candidate, production, alpha: float = 0.05, metric: str = "quality") -> Comparison:
    """Both policies scored on the same items (pairs with a missing side are dropped).

    0/1 scores: McNemar's test (exact binomial when fewer than 25 discordant pairs); the
    interval is the paired t-interval of the per-item difference. Graded: paired t-test.
    """
    from statsmodels.stats.contingency_tables import mcnemar

    b, a = _pairs(candidate, production)
    n = len(b)
    if n == 0:
        return Comparison(metric, NAN, NAN, NAN, NAN, NAN, NAN, "paired", 0, 0)
    d = b - a
    ci = mean_estimate(d, alpha)
    if is_binary(a, b):
        only_b = int(((b == 1) & (a == 0)).sum())
        only_a = int(((a == 1) & (b == 0)).sum())
        discordant = only_a + only_b
        if discordant == 0:
            p_value = 1.0
        else:
            table = [[int(((a == 1) & (b == 1)).sum()), only_a], [only_b, int(((a == 0) & (b == 0)).sum())]]
            p_value = float(mcnemar(table, exact=discordant < 25, correction=True).pvalue)
        test = "McNemar"
    else:
        p_value = _paired_t_p(b, a)
        test = "paired t-test"
    return Comparison(metric, float(a.mean()), float(b.mean()), float(d.mean()), ci.low, ci.high,
                      p_value, test, n, n)


def paired_means(candidate, production, alpha: float = 0.05, metric: str = "value") -> Comparison:
    """Paired t-test and interval for the mean per-item difference (cost, latency)."""
    b, a = _pairs(candidate, production)
    n = len(b)
    if n == 0:
        return Comparison(metric, NAN, NAN, NAN, NAN, NAN, NAN, "paired t-test", 0, 0)
    d = b - a
    ci = mean_estimate(d, alpha)
    return Comparison(metric, float(a.mean()), float(b.mean()), float(d.mean()), ci.low, ci.high,
                      _paired_t_p(b, a), "paired t-test", n, n)


def paired_drop(candidate, baseline, alpha: float = 0.05, metric: str = "quality") -> Comparison:
    """Is ``candidate`` worse than ``baseline`` on the same items? A one-sided paired test
    (pairs with a missing side are dropped); ``p_value`` is small when the candidate is worse.

    0/1 scores: McNemar's exact test, i.e. the binomial tail of the discordant pairs (items
    only the candidate gets right among those where the two differ, at most that many under
    p = 1/2). Graded: the one-sided paired t-test. The interval is the two-sided paired
    t-interval of the mean per-item difference ``candidate - baseline``.

    >>> c = paired_drop([0, 0, 0, 0, 0, 0, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1])  # 6 lost, none won
    >>> c.diff, c.p_value, c.test                                           # 0.5 ** 6
    (-0.75, 0.015625, 'McNemar exact (one-sided)')
    """
    from scipy import stats as sps

    b, a = _pairs(candidate, baseline)
    n = len(b)
    if n == 0:
        return Comparison(metric, NAN, NAN, NAN, NAN, NAN, NAN, "paired", 0, 0)
    d = b - a
    ci = mean_estimate(d, alpha)
    if is_binary(a, b):
        won, lost = int(((b == 1) & (a == 0)).sum()), int(((a == 1) & (b == 0)).sum())
        p_value = float(sps.binom.cdf(won, won + lost, 0.5)) if won + lost else 1.0
        test = "McNemar exact (one-sided)"
    else:
        if n > 1 and np.ptp(d) > 0:
            p_value = float(sps.ttest_rel(b, a, alternative="less").pvalue)
        else:  # a constant difference is certain
            p_value = 0.0 if d[0] < 0 else 1.0
        test = "paired t-test (one-sided)"
    return Comparison(metric, float(a.mean()), float(b.mean()), float(d.mean()), ci.low, ci.high,
                      p_value, test, n, n)


# -- sample size -------------------------------------------------------------------------------
def sample_size_proportions(baseline: float, mde: float, alpha: float = 0.05, power: float = 0.8,
                            ratio: float = 1.0, alternative: str = "two-sided") -> int:
    """Items needed in the control arm to detect a change of ``mde`` from ``baseline`` (a share).

    The candidate arm needs ``ratio`` times as many. Cohen's h effect size, normal approximation
    (``NormalIndPower``)::

        >>> sample_size_proportions(0.9, 0.05)
        681
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    if not (mde > 0) or not (0 <= baseline <= 1):
        raise ValueError("need 0 < mde and a baseline share between 0 and 1")
    other = baseline - mde if baseline - mde >= 0 else baseline + mde
    effect = abs(proportion_effectsize(baseline, other))
    if effect == 0:
        return 0
    n = NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=ratio,
                                     alternative=alternative)
    return int(math.ceil(float(np.asarray(n).item())))


def sample_size_means(sd: float, mde: float, alpha: float = 0.05, power: float = 0.8,
                      ratio: float = 1.0, alternative: str = "two-sided") -> int:
    """Items needed in the control arm to detect a change of ``mde`` in a mean with spread ``sd``."""
    from statsmodels.stats.power import NormalIndPower

    if not (mde > 0) or not (sd > 0):
        raise ValueError("need mde > 0 and sd > 0")
    n = NormalIndPower().solve_power(effect_size=mde / sd, alpha=alpha, power=power, ratio=ratio,
                                     alternative=alternative)
    return int(math.ceil(float(np.asarray(n).item())))

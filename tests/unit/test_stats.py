"""core.evaluation.stats against hand-computed values and independent scipy/statsmodels calls."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize, proportions_ztest

from core.evaluation import stats


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_two_proportions_by_hand():
    # 60/100 vs 50/100: pooled p = 0.55, se = sqrt(.55*.45*(1/100+1/100)), z = 0.1/se
    c = stats.diff_proportions(60, 100, 50, 100)
    se = math.sqrt(0.55 * 0.45 * 0.02)
    assert c.diff == pytest.approx(0.10)
    assert c.p_value == pytest.approx(2 * _norm_sf(0.10 / se), rel=1e-9)
    assert c.p_value == pytest.approx(0.1552, abs=1e-4)
    # Newcomb's hybrid score interval from the two Wilson intervals
    l1, u1 = _wilson(60, 100)
    l2, u2 = _wilson(50, 100)
    assert c.low == pytest.approx(0.10 - math.sqrt((0.6 - l1) ** 2 + (u2 - 0.5) ** 2), rel=1e-9)
    assert c.high == pytest.approx(0.10 + math.sqrt((u1 - 0.6) ** 2 + (0.5 - l2) ** 2), rel=1e-9)
    assert c.test == "two-proportion z-test" and not c.significant


def test_two_proportions_match_statsmodels_on_random_cases():
    rng = np.random.default_rng(7)
    for _ in range(25):
        n1, n2 = rng.integers(20, 3000, size=2)
        k1, k2 = rng.integers(1, n1), rng.integers(1, n2)
        c = stats.diff_proportions(int(k1), int(n1), int(k2), int(n2))
        _, p_ref = proportions_ztest([k1, k2], [n1, n2])
        lo, hi = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb")
        assert c.p_value == pytest.approx(p_ref, rel=1e-12)
        assert (c.low, c.high) == pytest.approx((lo, hi), rel=1e-12)
        assert c.low <= c.diff <= c.high


def test_wilson_interval_by_hand():
    e = stats.proportion_estimate(45, 50)
    assert (e.low, e.high) == pytest.approx(_wilson(45, 50), rel=1e-9)
    assert e.value == 0.9 and e.n == 50


def test_welch_by_hand_and_against_scipy():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    b = np.array([2.0, 4.0, 6.0, 8.0, 10.0, 12.0])
    c = stats.welch(b, a)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (b.mean() - a.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    assert c.diff == pytest.approx(4.0)
    assert c.p_value == pytest.approx(2 * sps.t.sf(abs(t), df), rel=1e-9)
    half = sps.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert (c.low, c.high) == pytest.approx((4.0 - half, 4.0 + half), rel=1e-9)
    rng = np.random.default_rng(3)
    x, y = rng.normal(1.0, 2.0, 400), rng.normal(1.3, 0.5, 250)
    ref = sps.ttest_ind(y, x, equal_var=False)
    got = stats.welch(y, x)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    ci = ref.confidence_interval(0.95)
    assert (got.low, got.high) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_graded_scores_use_welch_and_binary_use_proportions():
    assert stats.compare_scores([0, 1, 1, 0], [1, 1, 0, 0]).test == "two-proportion z-test"
    assert stats.compare_scores([0.5, 1, 0.2, 0.9], [1, 0.3, 0.1, 0]).test == "Welch t-test"
    # missing scores are dropped, not counted as zero
    c = stats.compare_scores([1, 1, np.nan], [0, 1, np.nan, np.nan])
    assert (c.n_candidate, c.n_control, c.candidate, c.control) == (2, 2, 1.0, 0.5)


def test_mean_interval_matches_scipy():
    x = np.array([3.0, 5.0, 4.0, 8.0, 6.5, np.nan])
    e = stats.mean_estimate(x)
    f = x[~np.isnan(x)]
    lo, hi = sps.t.interval(0.95, len(f) - 1, loc=f.mean(), scale=sps.sem(f))
    assert (e.value, e.low, e.high, e.n) == pytest.approx((f.mean(), lo, hi, 5))


def test_bootstrap_percentile_matches_scipy_and_covers_shift():
    rng = np.random.default_rng(11)
    a = rng.exponential(100, 300)
    b = rng.exponential(100, 300) + 80
    c = stats.bootstrap_percentile_diff(b, a, q=95, n_resamples=500, seed=5)
    ref = sps.bootstrap((b, a), lambda x, y, axis=-1: np.percentile(x, 95, axis=axis) - np.percentile(y, 95, axis=axis),
                        n_resamples=500, vectorized=True, method="percentile",
                        rng=np.random.default_rng(5))
    assert (c.low, c.high) == pytest.approx((ref.confidence_interval.low, ref.confidence_interval.high))
    assert c.diff == pytest.approx(np.percentile(b, 95) - np.percentile(a, 95))
    assert c.low < c.diff < c.high and c.test == "bootstrap"
    assert 0.0 <= c.p_value <= 1.0


def test_mcnemar_exact_by_hand():
    # 10 discordant pairs: candidate alone right on 2, production alone right on 8
    prod = np.array([1] * 8 + [0] * 2 + [1] * 20 + [0] * 5, dtype=float)
    cand = np.array([0] * 8 + [1] * 2 + [1] * 20 + [0] * 5, dtype=float)
    c = stats.paired_scores(cand, prod)
    assert c.test == "McNemar"
    assert c.p_value == pytest.approx(2 * sps.binom.cdf(2, 10, 0.5))  # 0.109375
    assert c.p_value == pytest.approx(0.109375)
    assert c.diff == pytest.approx((2 - 8) / 35)
    ref = mcnemar([[20, 8], [2, 5]], exact=True)
    assert c.p_value == pytest.approx(ref.pvalue)


def test_paired_t_against_scipy():
    rng = np.random.default_rng(2)
    a = rng.normal(0.002, 0.001, 200)
    b = a * 0.4 + rng.normal(0, 0.0002, 200)
    c = stats.paired_means(b, a)
    ref = sps.ttest_rel(b, a)
    ci = ref.confidence_interval(0.95)
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert (c.low, c.high) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_paired_p_values_on_correlated_pairs_equal_ttest_rel():
    # Graded scores of two policies on the same 8 items (plus one item each side missed).
    # Per-item differences .1 0 .1 -.1 .1 .1 0 .05: mean .04375, sd .0728869,
    # t = .04375 / (.0728869 / sqrt 8) = 1.6977 on 7 df -> p = .1334 (two-sided);
    # unpaired (Welch) the same numbers give p = .72: the pairing is what the test must use.
    prod = np.array([0.2, 0.4, 0.5, 0.6, 0.8, 0.3, 0.7, 0.9])
    cand = prod + np.array([0.1, 0.0, 0.1, -0.1, 0.1, 0.1, 0.0, 0.05])
    ref = sps.ttest_rel(cand, prod)
    assert ref.pvalue == pytest.approx(0.1334, abs=1e-4)
    graded = stats.paired_scores(np.append(cand, [np.nan, 0.5]), np.append(prod, [0.3, np.nan]))
    means = stats.paired_means(cand, prod)
    for c in (graded, means):
        assert c.test == "paired t-test" and c.n_control == c.n_candidate == 8
        assert c.p_value == pytest.approx(ref.pvalue, rel=1e-9)
        assert c.diff == pytest.approx(0.04375)
        # 95% t-interval: .04375 -/+ 2.3646 * .0728869 / sqrt 8 = [-.0172, .1047]
        assert (c.low, c.high) == pytest.approx((-0.0172, 0.1047), abs=1e-4)


def test_sample_size_by_hand_and_statsmodels():
    # Var(2 asin sqrt p1 - 2 asin sqrt p2) = 1/n1 + 1/n2, so with equal arms
    # n = 2 ((z_{1-a/2} + z_{power}) / h)^2 per arm, h = Cohen's h
    h = abs(2 * math.asin(math.sqrt(0.9)) - 2 * math.asin(math.sqrt(0.85)))
    by_hand = 2 * ((sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) / h) ** 2  # 680.35
    assert stats.sample_size_proportions(0.9, 0.05) == math.ceil(by_hand)
    ref = NormalIndPower().solve_power(effect_size=abs(proportion_effectsize(0.8, 0.77)), alpha=0.01,
                                       power=0.9, ratio=0.5)
    assert stats.sample_size_proportions(0.8, 0.03, alpha=0.01, power=0.9, ratio=0.5) == math.ceil(ref)
    # smaller differences need more data
    assert stats.sample_size_proportions(0.9, 0.01) > stats.sample_size_proportions(0.9, 0.02)
    with pytest.raises(ValueError):
        stats.sample_size_proportions(0.9, 0.0)


def test_intervals_cover_the_truth_most_of_the_time():
    """Coverage property: ~95% of Newcomb intervals contain the true difference."""
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(400):
        k1, k2 = rng.binomial(300, 0.82), rng.binomial(300, 0.85)
        c = stats.diff_proportions(int(k1), 300, int(k2), 300)
        hits += c.low <= -0.03 <= c.high
    assert 0.91 <= hits / 400 <= 0.99

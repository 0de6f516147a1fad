"""What a Cascade tuner threshold move costs (issue 13 item 20): its interval is one matrix product
with the eval set's seeded resample weights (the same interval as the classic bootstrap with that
seed), it reads no store, and the chart draws a decimated cloud that keeps the frontier's shape."""
from __future__ import annotations

import numpy as np
import pytest

from core.evaluation.intervals import (
    bootstrap_interval,
    bootstrap_ratios,
    resample_indices,
    resample_weights,
)
from core.evaluation.loading import load_csv
from tests.helpers.apptest import store
from tests.helpers.routing import tiny_csv
from ui.frontier_figures import MAX_CLOUD, decimate, frontier_figure


def classic_bootstrap(values: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    """The textbook percentile bootstrap of nanmean: resample the items, one resample at a time."""
    idx = resample_indices(len(values), n_boot, seed)
    stats = np.array([np.nanmean(values[row]) if (~np.isnan(values[row])).any() else np.nan
                      for row in idx])
    low, high = np.percentile(stats[~np.isnan(stats)], [2.5, 97.5])
    return float(low), float(high)


def test_matrix_product_interval_is_the_classic_bootstrap_with_the_same_seed():
    rng = np.random.default_rng(11)
    score = rng.integers(0, 2, 300).astype(float)
    score[rng.choice(300, 40, replace=False)] = np.nan  # not scored: left out, as the figure does
    cost = rng.uniform(0.001, 0.02, 300)
    cost[:5] = np.nan  # not priced
    out = bootstrap_interval(score, cost, n_boot=400, seed=5)
    assert out["quality"] == pytest.approx(classic_bootstrap(score, 400, 5), rel=1e-12)
    assert out["cost_per_item"] == pytest.approx(classic_bootstrap(cost, 400, 5), rel=1e-12)
    assert bootstrap_interval(score, cost, n_boot=400, seed=6) != out  # the seed matters


def test_hand_case_two_items_three_resamples():
    # values (1, 0); resamples drawn by seed 0 for n=2: count them by hand from the indices
    idx = resample_indices(2, 3, 0)
    w = resample_weights(2, 3, 0)
    assert w.tolist() == [[float((row == 0).sum()), float((row == 1).sum())] for row in idx]
    assert w.dtype == np.float64 and w.sum(axis=1).tolist() == [2.0, 2.0, 2.0]
    (interval,) = bootstrap_ratios(np.array([[1.0], [0.0]]), n_boot=3, seed=0)
    means = sorted(float((row == 0).mean()) for row in idx)  # the share of draws of the 1
    assert interval == pytest.approx((np.percentile(means, 2.5), np.percentile(means, 97.5)))


def test_resamples_are_drawn_once_per_eval_set_size_and_seed():
    resample_weights.cache_clear()
    score, cost = np.ones(257), np.full(257, 0.01)
    bootstrap_interval(score, cost, n_boot=300)
    bootstrap_interval(score * 0.5, cost, n_boot=300)  # a second threshold on the same eval set
    info = resample_weights.cache_info()
    assert (info.misses, info.hits) == (1, 1)


def test_a_threshold_move_reads_no_store(workspace_path, monkeypatch):
    """The page reads the scores' version once per full run; a move (the fragment) only uses the
    FrontierRef: the interval and the chart for new thresholds work with the store unreachable."""
    import ui.state
    from ui import routing_state

    es_id = store(workspace_path, load_csv(tiny_csv(), name="tiny.csv"))
    ref = routing_state.frontier_ref(es_id, ["small", "big"], {"kind": "confidence"})
    fr = routing_state.frontier_of(ref)

    def unreachable(*_a, **_k):
        raise AssertionError("a slider move queried the store")

    monkeypatch.setattr(ui.state, "plan_version", unreachable)
    monkeypatch.setattr(routing_state, "evalset_version", unreachable)
    # threshold .5 on the hand case: quality .75 at $.0035 (tests/unit/test_frontier.py)
    iv = routing_state.interval_at(ref, (0.5,))
    assert iv["quality"][0] <= 0.75 <= iv["quality"][1]
    fig = routing_state.frontier_chart(ref, (0.0035, 0.75))
    current = next(t for t in fig.data if t.name == "Current point")
    assert (current.x[0], current.y[0]) == (0.0035, 0.75)
    assert routing_state.frontier_chart(ref, (0.0035, 0.75)) is fig  # built once per point
    assert routing_state.frontier_of(ref) is fr


def test_decimated_cloud_keeps_the_shape_and_the_limit():
    rng = np.random.default_rng(3)
    n = 100_000
    cost = np.exp(rng.uniform(np.log(1e-4), np.log(1e-2), n))
    quality = np.clip(0.4 + 0.3 * rng.beta(2, 5, n) + 0.05 * np.log10(cost / 1e-4), 0, 1)
    rows = decimate(cost, quality)
    assert 0.8 * MAX_CLOUD <= len(rows) <= MAX_CLOUD and len(np.unique(rows)) == len(rows)
    # the edges stay: the kept points span (almost) the whole cloud on both axes
    for axis in (np.log10(cost), quality):
        span = axis.max() - axis.min()
        assert axis[rows].min() - axis.min() <= 0.05 * span
        assert axis.max() - axis[rows].max() <= 0.05 * span
    assert decimate(cost[:MAX_CLOUD], quality[:MAX_CLOUD]).tolist() == list(range(MAX_CLOUD))


def test_frontier_chart_draws_the_cloud_as_svg_within_the_limit():
    import pandas as pd

    rng = np.random.default_rng(4)
    n = 5_000
    points = pd.DataFrame({"cost_per_item": np.exp(rng.uniform(-9, -4, n)),
                           "quality": rng.uniform(0.3, 0.9, n), "t0": rng.uniform(0, 1, n)})
    points["pareto"] = False
    points.loc[points["quality"].idxmax(), "pareto"] = True
    singles = pd.DataFrame({"model": ["a", "b"], "quality": [0.5, 0.8], "cost_per_item": [1e-4, 1e-2]})
    fig = frontier_figure(points, singles, None, {"cost_per_item": 1e-3, "quality": 0.6}, ["t0"])
    cloud = next(t for t in fig.data if t.name == "Operating points")
    assert cloud.type == "scatter" and len(cloud.x) <= MAX_CLOUD  # no WebGL context per move


def test_model_labels_at_the_charts_edges_run_inwards_so_none_is_cut_off():
    import pandas as pd

    singles = pd.DataFrame({"model": ["mid", "cheap", "dear"], "cost_per_item": [0.01, 0.0001, 0.2],
                            "quality": [0.7, 0.5, 0.9]})
    fig = frontier_figure(None, singles, None, None)
    trace = next(t for t in fig.data if t.name == "Single models")
    labels = dict(zip(trace.customdata, trace.textposition))
    assert labels == {"cheap": "top right", "mid": "top center", "dear": "top left"}
    one = frontier_figure(None, singles.iloc[:1], None, None)
    assert list(next(t for t in one.data if t.name == "Single models").textposition) == ["top center"]

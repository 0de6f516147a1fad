"""The shipped synthetic sample: reproducible from its script, loadable, priced, and plausible."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from core.evaluation.loading import load_csv
from core.settings import REPO_ROOT

SAMPLE = REPO_ROOT / "data" / "sample_evalset.csv"


def _generator():
    spec = importlib.util.spec_from_file_location("make_sample", REPO_ROOT / "data" / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample():
    return load_csv(SAMPLE)


def test_committed_csv_is_exactly_what_the_seeded_script_writes(tmp_path):
    gen = _generator()
    out = gen.write(tmp_path / "again.csv")
    assert out.read_bytes() == SAMPLE.read_bytes()
    assert SAMPLE.stat().st_size < 5_000_000
    # The seed really drives the draws: another seed writes other messages.
    other = gen.make_items(np.random.default_rng(gen.SEED + 1))
    assert other["input"].tolist() != gen.make_items(np.random.default_rng(gen.SEED))["input"].tolist()


def test_script_says_the_data_is_synthetic():
    text = (REPO_ROOT / "data" / "make_sample.py").read_text()
    assert "SYNTHETIC" in text.split('"""')[1]


def test_sample_shape_and_columns(sample):
    assert 1500 <= sample.n_items <= 2500
    assert sample.n_models >= 5
    families = {"claude": 0, "gpt": 0, "gemini": 0, "local:": 0}
    for m in sample.models:
        for f in families:
            families[f] += m.startswith(f)
    assert all(families.values()), families
    assert len(set(sample.tasks)) >= 4
    assert {"segment", "value_usd", "urgent"} <= set(sample.items.columns)
    assert set(sample.items["segment"]) == {"smb", "mid", "enterprise"}
    assert sample.has_labels
    assert sample.items["input"].str.len().min() > 10


def test_every_model_is_priced_from_tokens(sample):
    assert set(sample.cost_source.values()) == {"catalog"}
    answered = ~np.isnan(sample.input_tokens)
    assert answered.mean() > 0.99
    assert not np.isnan(sample.cost[answered]).any()
    assert (sample.cost[answered] > 0).all()
    # Only timed-out calls lack tokens (and so cost and score).
    assert np.array_equal(np.isnan(sample.cost), ~answered)
    assert (sample.latency_ms[~answered] == 30_000).all()


def test_confidences_and_missing_results_present(sample):
    answered = ~np.isnan(sample.score)
    assert np.isfinite(sample.confidence[answered]).all()
    assert ((sample.confidence[answered] > 0) & (sample.confidence[answered] < 1)).all()
    missing = sample.missing_scores()
    assert 0 < sum(missing.values()) < 0.01 * sample.score.size


def test_quality_and_cost_spread_is_plausible(sample):
    acc = np.nanmean(sample.score, axis=0)
    cost = np.nanmean(sample.cost, axis=0)
    cheapest, best = int(np.argmin(cost)), int(np.argmax(acc))
    assert 0.70 <= acc[cheapest] <= 0.80
    assert 0.92 <= acc[best] <= 0.95
    assert cost.max() / cost.min() > 20


def test_cheap_models_fail_hard_items_more_and_strong_models_are_better_calibrated(sample):
    acc = np.nanmean(sample.score, axis=0)
    weak, strong = int(np.argmin(acc)), int(np.argmax(acc))
    # Items the strong model misses are hard: the weak model does far worse there.
    hard = sample.score[:, strong] == 0
    assert np.nanmean(sample.score[hard, weak]) < acc[weak] - 0.2

    def calibration_error(j):
        ok = ~np.isnan(sample.score[:, j])
        conf, right = sample.confidence[ok, j], sample.score[ok, j]
        bins = np.clip((conf * 10).astype(int), 0, 9)
        return sum(abs(conf[bins == b].mean() - right[bins == b].mean()) * (bins == b).mean()
                   for b in np.unique(bins))

    assert calibration_error(strong) < calibration_error(weak)
    # Confidence is informative: right answers come with higher confidence, for every model.
    for j in range(sample.n_models):
        s, c = sample.score[:, j], sample.confidence[:, j]
        assert np.nanmean(c[s == 1]) > np.nanmean(c[s == 0])


def test_tokens_follow_input_length_and_latency_is_long_tailed(sample):
    j = sample.models.index("gpt-4o-mini")
    words = sample.items["input"].str.split().str.len().to_numpy()
    ok = ~np.isnan(sample.input_tokens[:, j])
    tasks = sample.tasks
    for task in set(tasks):  # same prompt within a task: tokens grow with the message
        sel = ok & (tasks == task)
        assert np.corrcoef(words[sel], sample.input_tokens[sel, j])[0, 1] > 0.95
    for j in range(sample.n_models):
        lat = sample.latency_ms[~np.isnan(sample.score[:, j]), j]
        p50, p99 = np.percentile(lat, [50, 99])
        assert p99 > 2.5 * p50
    local = np.nanmedian(sample.latency_ms[:, sample.models.index("local:llama-3.1-8b")])
    frontier = np.nanmedian(sample.latency_ms[:, sample.models.index("claude-sonnet-4-5")])
    assert local < frontier

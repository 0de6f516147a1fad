"""Acceptance on real data (issue 12): fit on train, score once on the unseen test split.

* RouterBench ARC-Challenge, goal ``match:gpt-4-1106-preview`` (within one point): at most 0.50x
  gpt-4's cost on test, within one point of gpt-4's test quality;
* RouteLLM MMLU without its ``task`` column, goal 95% of gpt-4's training quality: at least 45%
  of gpt-4's cost saved on test (RouteLLM's published figure);
* both: the test point on or above the random-mix line of the test set, the stored held-out
  estimate within 1.5 points of the test figure, and the test point under the oracle.

Measured (bench/RESULTS.md, "Router v2 acceptance"): ARC 0.9522 at 0.425x (gpt-4 0.9567), estimate
0.9436 [0.931, 0.956]; MMLU 0.7641 at 0.332x (66.8% saved; 95% of test gpt-4 is 0.7650).
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from core.evaluation.loading import load_csv
from core.routing.optimize.policy_file import fit_goal, score_policy_file
from tests.fixtures.workspace import acceptance_file

pytestmark = pytest.mark.acceptance

GPT4 = "gpt-4-1106-preview"
_CACHE: dict = {}


def fitted_and_scored(name: str, train_path, test_path, goal: str, tmp_path):
    """Fit once per session (tens of seconds each), score once on test."""
    if name not in _CACHE:
        fitted = fit_goal(load_csv(train_path), goal)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(fitted))
        _CACHE[name] = (fitted, score_policy_file(path, load_csv(test_path)))
    return _CACHE[name]


@pytest.fixture
def arc(tmp_path):
    train = acceptance_file("routerbench", "arc_challenge_train.csv")
    test = acceptance_file("routerbench", "arc_challenge_test.csv")
    return fitted_and_scored("arc", train, test, f"match:{GPT4}", tmp_path)


@pytest.fixture
def mmlu(tmp_path):
    """RouteLLM's MMLU without the subject (``task``) column: the honest comparison with its
    published 45%; the goal is 95% of gpt-4's quality on the training rows."""
    if "mmlu" not in _CACHE:
        paths = []
        for part in ("train", "test"):
            frame = pd.read_csv(acceptance_file("routellm", f"mmlu_{part}.csv")).drop(columns=["task"])
            paths.append(tmp_path / f"mmlu_{part}.csv")
            frame.to_csv(paths[-1], index=False)
        train = load_csv(paths[0])
        target = 0.95 * train.model_stats.loc[GPT4, "quality"]
        return fitted_and_scored("mmlu", paths[0], paths[1], f"quality>={target:.6f}", tmp_path)
    return _CACHE["mmlu"]


def check_honest(fitted: dict, scored: dict) -> None:
    estimate, baseline = fitted["validation"], scored["baseline"]
    assert estimate["quality_ci"][0] < estimate["quality"] < estimate["quality_ci"][1]
    assert abs(estimate["quality"] - scored["quality"]) <= 0.015  # the stored estimate holds on test
    # on or above the random-mix line of the test set, below the oracle over every model
    assert scored["quality"] >= scored["random_mix"]["quality_at_cost"] - 1e-9
    assert scored["quality"] < scored["oracle"]["quality"]
    assert baseline["model"] == GPT4


def test_arc_matches_gpt4_at_half_its_cost_on_unseen_rows(arc):
    fitted, scored = arc
    assert scored["items"] == 445
    assert scored["baseline"]["cost_ratio"] <= 0.50  # measured 0.425
    assert scored["quality"] >= scored["baseline"]["quality"] - 0.01  # measured 0.9522 vs 0.9567
    assert scored["goal"]["met"] and fitted["goal_met_on_held_out"]
    check_honest(fitted, scored)


def test_mmlu_saves_more_than_routellm_at_95_percent_of_gpt4(mmlu):
    fitted, scored = mmlu
    assert scored["items"] == 7021
    assert scored["baseline"]["savings"] >= 0.45  # measured 0.668
    # 95% of gpt-4's test quality, within the test set's noise (SE of a plan ~0.5 points here)
    assert scored["quality"] >= 0.95 * scored["baseline"]["quality"] - 0.005
    check_honest(fitted, scored)
    signals = {s["signal"]: s for s in fitted["signals"]}
    weak = signals["P(mistralai/Mixtral-8x7B-Instruct-v0.1 right | prompt)"]
    assert weak["helps"] and weak["auc"] > 0.6  # measured 0.70 out-of-fold (issue: 0.70)

"""``python -m core fit``, ``score`` and ``frontier`` as DESIGN.md specifies them."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from core.settings import REPO_ROOT as ROOT
from tests.helpers.learned import confidence_evalset, write_long_csv


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    write_long_csv(confidence_evalset(120, seed=1), d / "train.csv")
    write_long_csv(confidence_evalset(80, seed=2), d / "test.csv")
    return d


@pytest.fixture(scope="module")
def fitted(files):
    out = files / "p.json"
    proc = _run("fit", files / "train.csv", "--goal", "match:big", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stderr


def test_fit_writes_a_policy_file_and_prints_its_held_out_estimate(fitted):
    path, stderr = fitted
    data = json.loads(path.read_text())
    assert data["policy"]["kind"] in ("cascade", "mix") and data["goal"] == "match:big"
    v = data["validation"]
    assert v["quality"] >= 0.99 and "cross-validation" in v["source"]
    assert data["fitted_on"]["items"] == 120
    line = stderr.strip().splitlines()[0]
    assert line.startswith(f"held-out estimate: quality {v['quality']:.4f} [95% {v['quality_ci'][0]:.4f}-")
    assert f"prices of {data['price_snapshot_date']}" in line


def test_score_prints_the_contract_and_checks_the_goal(files, fitted):
    from core.evaluation.loading import load_csv
    from core.routing.policies import policy_from_dict

    path, _ = fitted
    proc = _run("score", path, files / "test.csv", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {"quality", "cost_per_item", "items", "calls"} <= set(result)
    out = policy_from_dict(json.loads(path.read_text())["policy"]).evaluate(load_csv(files / "test.csv"))
    assert result["items"] == 80 and result["quality"] == out.quality
    assert result["calls"] == out.calls()
    assert result["cost_per_item"] == pytest.approx(out.cost_per_item)
    assert result["goal"]["goal"] == "match:big" and result["goal"]["target_quality"] == pytest.approx(0.99)
    assert result["goal"]["met"] == (out.quality >= 0.99 - 1e-9)
    assert result["baseline"]["model"] == "big" and result["baseline"]["quality"] == 1.0
    assert result["oracle"]["quality"] == 1.0


def test_a_goal_that_cannot_be_met_exits_1_naming_the_best_point(files, tmp_path):
    out = tmp_path / "best.json"
    proc = _run("fit", files / "train.csv", "--goal", "cost<=0.0001", "--out", out)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert "cannot be met" in errors[0] and "best achievable quality" in errors[0] and "$0.001000/item" in errors[0]
    data = json.loads(out.read_text())  # the JSON is written as before
    assert data["goal_met_on_held_out"] is False and data["best_achievable"]["cost_per_item"] == pytest.approx(0.001)


def test_frontier_of_two_models_without_confidence_is_the_mix_and_its_oracle_covers_every_model(tmp_path):
    from core.evaluation.evalset import EvalSet
    from core.routing.frontier import frontier_summary

    n = 40
    score = np.column_stack([np.arange(n) % 2, np.ones(n), np.arange(n) % 4 == 0]).astype(float)
    es = EvalSet.from_arrays("rl", ["weak", "strong", "other"], score=score,
                             cost=np.tile([1.0, 10.0, 0.5], (n, 1)))
    result = frontier_summary(es, ["weak", "strong"])
    assert result["signal"]["kind"] == "mix" and result["n_points"] == n + 1
    ends = result["points"][0], result["points"][-1]
    assert (ends[0]["quality"], ends[0]["cost_per_item"]) == (0.5, 1.0)  # weak alone
    assert (ends[1]["quality"], ends[1]["cost_per_item"]) == (1.0, 10.0)  # strong alone
    # every point is a mix: quality and cost on the straight line between the two models
    for p in result["points"]:
        assert p["quality"] - 0.5 == pytest.approx((p["cost_per_item"] - 1.0) / 18, abs=0.13)
    # the oracle: 'other' ($0.5) is right on items 0, 4, 8...; weak on odd items; strong elsewhere
    assert result["oracle"]["quality"] == 1.0
    assert result["oracle"]["cost_per_item"] == pytest.approx((10 * 0.5 + 20 * 1.0 + 10 * 10.0) / 40)
    write_long_csv(es, tmp_path / "rl.csv")
    proc = _run("frontier", tmp_path / "rl.csv", "--models", "weak,strong", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["signal"]["kind"] == "mix"


def test_frontier_json(files):
    proc = _run("frontier", files / "train.csv", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert isinstance(result, dict) and result


@pytest.mark.parametrize("goal", ["quality>=high", "match:gpt-9"])
def test_bad_goal_exits_with_one_readable_line(files, tmp_path, goal):
    proc = _run("fit", files / "train.csv", "--goal", goal, "--out", tmp_path / "x.json")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.json").exists()


def test_score_with_a_model_the_test_set_lacks(files, tmp_path):
    policy = tmp_path / "other.json"
    policy.write_text(json.dumps({"kind": "single", "model": "gpt-9"}))
    proc = _run("score", policy, files / "test.csv", "--json")
    assert proc.returncode != 0
    assert "gpt-9" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1

"""``python -m core fit``, ``score`` and ``frontier`` as DESIGN.md specifies them."""
from __future__ import annotations

import json
import subprocess
import sys

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
    proc = _run("fit", files / "train.csv", "--goal", "match:big~0", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


def test_fit_writes_a_policy_file(fitted):
    data = json.loads(fitted.read_text())
    assert data["policy"]["kind"] == "cascade" and data["goal"] == "match:big~0"
    assert data["validation"]["quality"] == 1.0
    assert "cross-validation" in data["validation"]["source"]
    assert data["fitted_on"]["items"] == 120


def test_score_prints_exactly_the_contract(files, fitted):
    proc = _run("score", fitted, files / "test.csv", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert {"quality", "cost_per_item", "items", "calls"} <= set(result)
    assert result["items"] == 80 and result["quality"] == 1.0
    # the cascade calls small on every item and big on the 40% small is unsure about
    assert result["calls"]["small"] == 80 and result["calls"]["big"] == 32
    assert result["cost_per_item"] == pytest.approx(0.001 + 0.4 * 0.01)


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

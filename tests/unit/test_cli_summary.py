"""``python -m core summary EVALSET.csv --json``: the exact object of DESIGN.md, and clean errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import REPO_ROOT

ROOT = REPO_ROOT
DATA = REPO_ROOT / "tests" / "data"


def run(*args: str, workspace: Path) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, TRADEOFF_WORKSPACE=str(workspace))
    return subprocess.run([sys.executable, "-m", "core", "summary", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_summary_json_exact(tmp_path):
    done = run(str(DATA / "tiny_long.csv"), "--json", workspace=tmp_path / "w.duckdb")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1  # one JSON object on one line
    result = json.loads(done.stdout)
    assert list(result) == ["items", "models"]
    assert result["items"] == 3
    assert [list(m) for m in result["models"]] == [["model", "quality", "cost_per_item", "scored"]] * 2
    big, small = result["models"]
    assert big == {"model": "big", "quality": 1.0, "cost_per_item": pytest.approx(0.02), "scored": 3}
    assert small == {"model": "small", "quality": pytest.approx(2 / 3),
                     "cost_per_item": pytest.approx(0.001), "scored": 3}


def test_summary_unknown_cost_and_missing_scores_are_null(tmp_path):
    done = run(str(DATA / "tiny_missing.csv"), "--json", workspace=tmp_path / "w.duckdb")
    assert done.returncode == 0, done.stderr
    assert '"cost_per_item": null' in done.stdout  # JSON null, never NaN
    assert json.loads(done.stdout) == {"items": 3, "models": [
        {"model": "a", "quality": pytest.approx(2 / 3), "cost_per_item": None, "scored": 3},
        {"model": "b", "quality": 1.0, "cost_per_item": None, "scored": 1}]}


def test_summary_text_mode(tmp_path):
    unscored = tmp_path / "unscored.csv"
    unscored.write_text("item_id,model,score,output\n1,a,1,x\n1,b,,y\n")
    done = run(str(unscored), workspace=tmp_path / "w.duckdb")
    assert done.returncode == 0, done.stderr
    assert "1 items" in done.stdout and "cost/item unknown" in done.stdout
    assert "quality unscored" in done.stdout  # a model with no score is said so, not a crash


def test_bad_file_exits_nonzero_with_one_readable_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,model,score\n1,a,abc\n2,a,3\n")
    done = run(str(bad), "--json", workspace=tmp_path / "w.duckdb")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "bad.csv, row 1, column 'score'" in lines[0] and "row 2" in lines[0]
    assert "Traceback" not in done.stderr


def test_missing_file(tmp_path):
    done = run(str(tmp_path / "absent.csv"), "--json", workspace=tmp_path / "w.duckdb")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: absent.csv: no such file"

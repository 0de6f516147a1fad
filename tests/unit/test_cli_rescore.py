"""``python -m core rescore EVALSET.csv --scorer SPEC [--task T] --out SCORED.csv``: the output is
a long eval set with ``score`` filled; bad input is one line on stderr and exit 2; a judge prints
its cost estimate first, runs through the fake provider servers, and a second run reuses it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.evaluation.loading import load_csv
from core.settings import REPO_ROOT

CSV = """item_id,model,input,task,reference,output,score
1,big,2+2?,math,4,The answer is 4,1
1,small,2+2?,math,4,four,1
2,big,Capital of France?,geo,Paris,Paris,1
2,small,Capital of France?,geo,Paris,Lyon,1
"""


def rescore(tmp_path, *args, env=None):
    full = dict(os.environ if env is None else env, TRADEOFF_WORKSPACE=str(tmp_path / "w.duckdb"))
    return subprocess.run([sys.executable, "-m", "core", "rescore", *map(str, args)], cwd=REPO_ROOT,
                          env=full, capture_output=True, text=True, timeout=180)


@pytest.fixture
def evalset_csv(tmp_path):
    path = tmp_path / "open.csv"
    path.write_text(CSV)
    return path


def in_process(capsys, *args) -> tuple[int, str, str]:
    """The command's main() in this process (no interpreter start-up): (code, stdout, stderr)."""
    from core.cli import main

    code = main(["rescore", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_rescore_a_task_writes_a_long_eval_set_with_scores(tmp_path, evalset_csv, capsys, workspace_path):
    out = tmp_path / "scored.csv"
    code, stdout, stderr = in_process(capsys, evalset_csv, "--scorer", "numeric:0.01", "--task",
                                      "math", "--out", out, "--json")
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["scorer"] == "numeric:0.01" and report["items"] == 1
    assert {m["model"]: (m["quality"], m["unparsed"]) for m in report["models"]} == {
        "big": (1.0, 0), "small": (0.0, 1)}
    scored = load_csv(out)
    assert scored.format == "long" and scored.models == ("big", "small")
    assert scored.score.tolist() == [[1.0, 0.0], [1.0, 1.0]]  # geo keeps the file's scores
    assert scored.items["reference"].tolist() == ["4", "Paris"]
    code, stdout, _ = in_process(capsys, evalset_csv, "--scorer", "numeric:0.01", "--task", "math",
                                 "--out", out, "--json")
    assert code == 0 and json.loads(stdout)["reused"] == 2


@pytest.mark.parametrize("args, words", [
    (["--scorer", "fuzzy"], "Unknown scorer 'fuzzy'"),
    (["--scorer", "numeric"], "expected a number (item_id 2), got 'Paris'"),
    (["--scorer", "exact", "--task", "history"], "no task 'history'"),
    (["--scorer", "json-schema:nope.json"], "no such file"),
    (["--scorer", "exact", "--against", "big"], "apply to judge:PROVIDER:MODEL scorers only"),
    (["--scorer", "judge:openai:m", "--against", "huge"], "'huge', which is not in the eval set"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, evalset_csv, args, words, capsys, workspace_path):
    from core.cli import main  # in-process: the same main() the command runs, without a start-up

    out = tmp_path / "scored.csv"
    assert main(["rescore", str(evalset_csv), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err
    assert "Traceback" not in err and not out.exists()


def test_a_judge_from_the_command_line(tmp_path, evalset_csv, fake_llm_env, fake_llm, capsys,
                                      monkeypatch):
    out = tmp_path / "judged.csv"
    done = rescore(tmp_path, evalset_csv, "--scorer", "judge:openai:gpt-4o-mini", "--recheck", "1",
                   "--out", out, "--json", env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("judge judge:openai:gpt-4o-mini: 0 answer(s) already judged, "
                               "5 call(s) to make, at most $")  # 4 answers + 1 re-judged
    report = json.loads(done.stdout)
    assert report["trust"][0]["agreement"]["n"] == 4
    # every human score is a pass; the judge passes only big's "Paris" ("The answer is 4" != "4")
    assert report["trust"][0]["agreement"]["accuracy"] == 0.25
    assert load_csv(out).score.tolist() == [[0.0, 0.0], [1.0, 0.0]]  # "The answer is 4" != "4"
    assert "sk-fake" not in done.stderr + done.stdout + out.read_text()
    monkeypatch.setenv("TRADEOFF_WORKSPACE", str(tmp_path / "w.duckdb"))  # the same workspace
    code, _, stderr = in_process(capsys, evalset_csv, "--scorer", "judge:openai:gpt-4o-mini",
                                 "--recheck", "1", "--out", out)
    assert code == 0 and "4 answer(s) already judged, 0 call(s) to make" in stderr
    assert fake_llm.count(status=200) == 5


def test_a_judge_without_a_key_is_refused(tmp_path, evalset_csv, monkeypatch, capsys, workspace_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, _, stderr = in_process(capsys, evalset_csv, "--scorer", "judge:openai:gpt-4o-mini",
                                 "--out", tmp_path / "o.csv")
    assert code == 2 and "no API key for openai (set OPENAI_API_KEY)" in stderr

"""``python -m core check``: the regression gate on a hand-made eval set of 10 items.

Scores per item (q01..q10), all against the label 'a':

    good      1 1 1 1 1 1 1 1 1 0   quality 0.9, $0.001/item   (the baseline's policy)
    bad       0 0 0 0 0 0 1 1 1 0   0.3: loses q01-q06, wins none: McNemar exact p = 0.5^6
    shuffled  1 1 1 1 1 1 1 1 0 1   0.9: loses q09, wins q10: p = P(X <= 1 | 2, 1/2) = 0.75
    slightly  0 0 1 1 1 1 1 1 1 0   0.7: loses 2, wins none: p = 0.25 (chance explains it)
    pricey    = good's scores at $0.003/item
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from core.cli import main
from tests.helpers.gate import write_evalset


@pytest.fixture
def files(tmp_path, workspace_path):
    evalset = write_evalset(tmp_path / "ev.csv")
    baseline = tmp_path / "base.json"
    assert main(["check", str(evalset), "--policy", "good", "--write-baseline", str(baseline)]) == 0
    return evalset, baseline


def check(capsys, *args) -> tuple[int, str, str]:
    code = main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_worse_policy_fails_the_paired_test_with_exit_1_and_one_line(files, capsys):
    evalset, baseline = files
    code, out, err = check(capsys, evalset, "--policy", "bad", "--baseline", baseline)
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert err.strip() == (
        "check failed: quality regressed against base.json: 0.900 -> 0.300 on the same 10 items, "
        "change -0.600 (95% -0.969 to -0.231; McNemar exact (one-sided) p = 0.0156), beyond the "
        "allowed drop 0.000 at alpha 0.05")


def test_an_equal_policy_passes_with_one_summary_line(files, capsys):
    evalset, baseline = files
    code, out, err = check(capsys, evalset, "--policy", "good", "--baseline", baseline,
                           "--min-quality", "0.8", "--max-cost", "0.002")
    assert code == 0 and err == "" and out.count("\n") == 1
    assert out.startswith("check passed: model good on ev.csv (10 items): quality 0.900 >= floor "
                          "0.800 (95% 0.596-0.982, 10 scored items); cost $0.001000/item <= "
                          "ceiling $0.002000 (costs from the file); vs base.json: 0.900 -> 0.900 "
                          "on the same 10 items, change +0.000")
    # the same mean with different items right is no regression either: 1 lost, 1 won
    code, out, _ = check(capsys, evalset, "--policy", "shuffled", "--baseline", baseline)
    assert code == 0 and "McNemar exact (one-sided) p = 0.75" in out


def test_a_drop_chance_explains_passes_the_paired_test_but_not_the_floor(files, capsys):
    evalset, baseline = files
    code, out, err = check(capsys, evalset, "--policy", "slightly", "--baseline", baseline,
                           "--json", "--min-quality", "0.8")
    assert code == 1
    result = json.loads(out)  # --json: stdout is the JSON alone, the line goes to stderr
    status = {c["name"]: c["status"] for c in result["checks"]}
    assert status == {"quality floor": "failed", "cost ceiling": "skipped",
                      "paired regression vs baseline": "passed"}
    assert result["comparison"]["p_value"] == pytest.approx(0.25)
    assert result["quality"]["value"] == pytest.approx(0.7)
    assert err.strip() == ("check failed: quality 0.700 is below the floor 0.800 "
                           "(95% 0.397-0.892, 10 scored items)")
    # allowing a drop of 0.6 lets even 'bad' through; 0.5 does not
    assert check(capsys, evalset, "--policy", "bad", "--baseline", baseline, "--max-drop", "0.6")[0] == 0
    assert check(capsys, evalset, "--policy", "bad", "--baseline", baseline, "--max-drop", "0.5")[0] == 1


def test_the_baseline_is_matched_item_by_item_not_by_row(files, tmp_path, capsys):
    _, baseline = files
    shuffled_rows = write_evalset(tmp_path / "reordered.csv", order=[10, 3, 7, 1, 9, 2, 8, 4, 6, 5])
    code, out, _ = check(capsys, shuffled_rows, "--policy", "good", "--baseline", baseline)
    assert code == 0 and "change +0.000" in out and "p = 1" in out


def test_the_cost_ceiling(files, capsys):
    evalset, _ = files
    code, _, err = check(capsys, evalset, "--policy", "pricey", "--max-cost", "0.002")
    assert code == 1
    assert err.strip() == ("check failed: cost $0.003000/item is above the ceiling $0.002000 "
                           "(costs from the file)")
    assert check(capsys, evalset, "--policy", "pricey", "--max-cost", "0.003")[0] == 0


def test_junit_report_has_one_testcase_per_check_and_the_reason(files, tmp_path, capsys):
    evalset, baseline = files
    report = tmp_path / "out" / "gate.xml"
    code, _, err = check(capsys, evalset, "--policy", "bad", "--baseline", baseline,
                         "--min-quality", "0.25", "--junit", report)
    assert code == 1
    suite = ET.parse(report).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["quality floor", "cost ceiling", "paired regression vs baseline"]
    assert cases["quality floor"].find("failure") is None and cases["quality floor"].find("skipped") is None
    assert cases["cost ceiling"].find("skipped").get("message") == "no --max-cost given"
    failure = cases["paired regression vs baseline"].find("failure")
    assert failure.get("message") == err.strip().removeprefix("check failed: ")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["policy"] == "model bad" and props["baseline"] == "base.json"
    assert len(props["items_sha256"]) == 64


def test_a_failing_run_never_becomes_the_baseline(files, tmp_path, capsys):
    evalset, baseline = files
    written = tmp_path / "next.json"
    assert check(capsys, evalset, "--policy", "bad", "--baseline", baseline,
                 "--write-baseline", written)[0] == 1
    assert not written.exists()
    assert check(capsys, evalset, "--policy", "shuffled", "--baseline", baseline,
                 "--write-baseline", written)[0] == 0
    data = json.loads(written.read_text())
    assert data["items"]["item_id"][:2] == ["q01", "q02"]
    assert data["items"]["score"] == [1.0] * 8 + [0.0, 1.0]
    assert data["quality"] == pytest.approx(0.9) and data["evalset"]["items"] == 10


def test_a_policy_file_with_an_unknown_model_is_bad_input(files, tmp_path, capsys):
    evalset, _ = files
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"kind": "cascade", "models": ["bad", "gpt-9"],
                                  "thresholds": [0.5]}))
    code, out, err = check(capsys, evalset, "--policy", policy, "--min-quality", "0.5")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "'gpt-9'" in err and "policy.json" in err and "Traceback" not in err
    # a policy file that is fine runs: 'good' as a file
    policy.write_text(json.dumps({"kind": "single", "model": "good"}))
    code, out, _ = check(capsys, evalset, "--policy", policy, "--min-quality", "0.9")
    assert code == 0 and out.startswith("check passed: policy.json (single) on ev.csv")


@pytest.mark.parametrize("args, words", [
    (["MISSING", "--policy", "good", "--min-quality", "0.5"], "missing.csv: no such file"),
    (["EV", "--policy", "nothing.json", "--min-quality", "0.5"],
     "nothing.json: no such policy file, and ev.csv has no model of that name"),
    (["EV", "--policy", "good", "--baseline", "nowhere.json"], "nowhere.json: no such baseline file"),
    (["EV", "--policy", "good", "--min-quality", "80"], "--min-quality must be a score between 0 and 1"),
    (["EV", "--policy", "good"], "check needs something to check"),
])
def test_bad_input_is_one_line_and_exit_2(files, tmp_path, capsys, args, words):
    evalset, _ = files
    args = [str(evalset) if a == "EV" else str(tmp_path / "missing.csv") if a == "MISSING" else a
            for a in args]
    code, out, err = check(capsys, *args)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert words in err


def test_a_baseline_of_other_items_is_refused(files, tmp_path, capsys):
    _, baseline = files
    fewer = write_evalset(tmp_path / "fewer.csv", items=9)
    code, _, err = check(capsys, fewer, "--policy", "good", "--baseline", baseline)
    assert code == 2 and err.count("\n") == 1
    assert "base.json: the baseline was written for other items (ev.csv, 10 items" in err
    assert "not for fewer.csv (9 items" in err and "--write-baseline" in err
    relabeled = write_evalset(tmp_path / "relabeled.csv", label="b")  # same ids, other labels
    assert check(capsys, relabeled, "--policy", "good", "--baseline", baseline)[0] == 2
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "tradeoff-policy/1"}')
    code, _, err = check(capsys, tmp_path / "ev.csv", "--policy", "good", "--baseline", broken)
    assert code == 2 and "broken.json: not a baseline written by check --write-baseline" in err

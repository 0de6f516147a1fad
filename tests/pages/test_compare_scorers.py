"""Scorers on the Compare page (AppTest): pick a scorer for a task and the leaderboard changes to
the hand-computed figures; a scorer that cannot apply is refused with the column and rows; an LLM
judge shows its cost estimate, runs against the fake provider servers, and its agreement with the
human scores appears beside the leaderboard."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.settings import REPO_ROOT

PAGE = str(REPO_ROOT / "app_pages" / "compare.py")
CSV = b"""item_id,model,input,task,reference,output,score
1,big,2+2?,math,4,The answer is 4,1
1,small,2+2?,math,4,four,1
2,big,10/4?,math,2.5,2.5,1
2,small,10/4?,math,2.5,2.4,1
3,big,Capital of France?,geo,Paris,Paris,1
3,small,Capital of France?,geo,Paris,paris,0
"""


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["_sample_checked"] = True
    at.run()
    at.file_uploader(key="evalset_picker_upload").set_value(("open.csv", CSV, "text/csv"))
    return at.run()


def board(at):
    return at.dataframe[0].value.set_index("Model")


def scorers(at):
    return next(d.value for d in at.dataframe if {"scorer", "version"} <= set(d.value.columns))


def test_a_scorer_per_task_changes_the_leaderboard(workspace_path):
    at = page()
    assert not at.exception, at.exception
    assert board(at).loc["small", "Quality"] == pytest.approx(2 / 3)  # the file's scores
    assert scorers(at)["scorer"].tolist() == ["as in the file"] * 2
    at.selectbox(key="scorer_task").set_value("math")
    at.selectbox(key="scorer_kind").set_value("numeric").run()
    at.text_input(key="scorer_arg_numeric").set_value("0.01")
    at.button(key="scorer_apply").click().run()
    assert not at.exception, at.exception
    # math by numeric:0.01: big 1, 1; small "four" unparsed (0), 2.4 (0); geo from the file
    assert board(at).loc["big", "Quality"] == pytest.approx(1.0)
    assert board(at).loc["small", "Quality"] == pytest.approx(0.0)
    table = scorers(at).set_index("task")
    assert table.loc["math", "scorer"] == "numeric:0.01" and table.loc["math", "unparsed"] == 1
    assert table.loc["geo", "scorer"] == "as in the file"
    at.selectbox(key="scorer_task").set_value("*")
    at.selectbox(key="scorer_kind").set_value("exact").run()
    at.button(key="scorer_apply").click().run()
    # geo by exact ("paris" == "Paris"): small 1; math keeps its own scorer
    assert board(at).loc["small", "Quality"] == pytest.approx(1 / 3)
    breakdown = next(d.value for d in at.dataframe if "not_scored" in d.value.columns)
    assert set(breakdown["scorer"]) == {"numeric:0.01", "exact"}


def test_a_scorer_that_cannot_apply_is_refused_with_the_rows(workspace_path):
    at = page()
    at.selectbox(key="scorer_kind").set_value("numeric").run()
    at.button(key="scorer_apply").click().run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "column 'reference'" in errors[0] and "item_id 3" in errors[0]
    assert "Traceback" not in errors[0]
    assert board(at).loc["small", "Quality"] == pytest.approx(2 / 3)  # nothing changed


def test_a_judge_with_its_estimate_progress_and_trust(workspace_path, fake_llm_env, fake_llm):
    at = page()
    at.selectbox(key="scorer_kind").set_value("judge").run()
    assert not at.exception, at.exception
    estimate = next(d.value for d in at.dataframe if "pass" in d.value.columns)
    assert estimate["calls"].tolist() == [6, 6]  # 6 answers, and all 6 re-judged (sample of 20)
    assert any("judge calls" in m.value and "at most" in m.value for m in at.markdown)
    at.button(key="judge_start").click().run()
    from core.live.background import active_run

    handle = active_run(at.session_state["judge_run_id"])
    assert handle.wait(60)
    at.run()
    assert not at.exception, at.exception
    # the fake judge passes answers equal to the reference: big 2/3 ("The answer is 4" fails)
    assert board(at).loc["big", "Quality"] == pytest.approx(2 / 3)
    assert board(at).loc["small", "Quality"] == pytest.approx(1 / 3)
    # human: big 1 1 1, small 1 1 0; judge: big 0 1 1, small 0 0 1 -> agree on 2 of 6
    notes = [i.value for i in at.info]
    assert any("agrees with the human scores on 33% of 6 answers" in n for n in notes)
    vs_human = next(d.value for d in at.dataframe if "judge's reason" in d.value.columns)
    assert len(vs_human) == 4
    assert set(vs_human["judge's reason"]) == {"fake judge: fail", "fake judge: pass"}
    assert len(fake_llm.calls) == 12


@pytest.mark.parametrize("page_file", ["cascade.py", "routing.py"])
def test_frontiers_on_judged_scores_carry_the_judges_agreement(workspace_path, fake_llm, page_file):
    from core.evaluation.loading import load_csv
    from core.evaluation.score_store import set_plan
    from core.evaluation.store import save_evalset
    from core.live.judge import Judge, JudgeJob
    from core.workspace import open_workspace

    ws = open_workspace(workspace_path)
    lines = CSV.decode().splitlines()  # with costs and confidences, so a cascade can be drawn
    rows = [lines[0] + ",cost_usd,confidence"] + [
        line + (",0.01,0.9" if ",big," in line else ",0.001,0.6") for line in lines[1:]]
    es = load_csv("\n".join(rows).encode(), name="open.csv")
    set_id = save_evalset(ws, es)
    job = JudgeJob(ws, es, Judge.from_spec("judge:openai:gpt-4o-mini"), recheck=0,
                   keys={"openai": "sk-fake-0123456789"},
                   base_urls={"openai": fake_llm.base_urls["openai"]})
    job.run()
    set_plan(ws, set_id, "*", job.scorer_id)
    at = AppTest.from_file(str(REPO_ROOT / "app_pages" / page_file), default_timeout=180)
    at.session_state["_sample_checked"] = True
    at.session_state["evalset_id"] = set_id
    at.run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert any("Scores judged by judge:openai:gpt-4o-mini; agrees with the human scores on 33% "
               "of 6 answers" in c for c in captions), captions

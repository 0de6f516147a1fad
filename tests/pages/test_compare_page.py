"""The Compare models page driven headlessly (streamlit.testing AppTest): first run on the shipped
sample, uploads (good, bad, inputs-only, unknown costs), model choice, deletion."""
from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.evaluation.loading import load_csv
from core.evaluation.metrics import leaderboard
from core.settings import REPO_ROOT

ROOT = REPO_ROOT
DATA = REPO_ROOT / "tests" / "data"
PAGE = str(ROOT / "app_pages" / "compare.py")
SAMPLE = ROOT / "data" / "sample_evalset.csv"
UPLOAD = "evalset_picker_upload"


def page(seed_sample: bool = False) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    if not seed_sample:
        at.session_state["_sample_checked"] = True  # start from an empty workspace
    return at


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.file_uploader(key=UPLOAD).set_value((name, content, "text/csv"))
    return at.run()


def board(at: AppTest):
    return at.dataframe[0].value.set_index("Model")  # the leaderboard comes first on the page


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption]
                     + [i.value for i in at.info])


def test_empty_workspace_asks_for_an_upload(workspace_path):
    at = page().run()
    assert not at.exception
    assert any("No eval set yet" in i.value for i in at.info)
    assert len(at.dataframe) == 0


@pytest.mark.skipif(not SAMPLE.exists(), reason="data/sample_evalset.csv not generated yet")
def test_first_run_opens_on_the_synthetic_sample(workspace_path):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "synthetic" in at.selectbox(key="evalset_picker").format_func(
        at.selectbox(key="evalset_picker").value).lower()
    assert any("Synthetic demo data" in c.value for c in at.caption)
    shown = board(at)
    expected = leaderboard(load_csv(SAMPLE)).set_index("model")
    assert sorted(shown.index) == sorted(expected.index) and len(shown) >= 5
    assert np.allclose(shown["Quality"], expected.loc[shown.index, "quality"])
    assert np.allclose(shown["$ / item"], expected.loc[shown.index, "cost_per_item"])


def test_upload_shows_leaderboard_computed_by_hand(workspace_path):
    at = upload(page().run(), "tiny.csv", (DATA / "tiny_long.csv").read_bytes())
    assert not at.exception, [e.value for e in at.exception]
    assert any("Stored tiny.csv" in s.value for s in at.success)
    shown = board(at)
    assert list(shown.index) == ["big", "small"]
    assert shown.loc["small", "Quality"] == pytest.approx(2 / 3)
    assert shown.loc["small", "95% interval"] == "0.208 – 0.939"  # Wilson, 2 of 3
    assert shown.loc["small", "Macro-F1"] == pytest.approx(0.5)
    assert shown.loc["small", "$ / item"] == pytest.approx(0.001)
    assert shown.loc["small", "$ / correct"] == pytest.approx(0.0015)
    assert shown.loc["big", "p95 ms"] == pytest.approx(290)
    assert (shown.loc["small", "Scored"], shown.loc["small", "Missing"]) == (3, 0)
    # chart, per-task heatmap and confusion matrix are drawn; the disagreement is item 2
    assert len(at.get("plotly_chart")) == 3
    disagree = at.dataframe[-1].value  # the disagreements table comes last: narrow, by spread
    assert disagree.columns.tolist()[-3:] == ["spread", "big", "small"]
    assert disagree[["item_id", "spread", "big", "small"]].values.tolist() == [["2", 1.0, 1.0, 0.0]]
    assert "1 of 3 items get different answers" in texts(at)


def test_bad_upload_shows_the_row_and_stores_nothing(workspace_path):
    at = upload(page().run(), "good.csv", (DATA / "tiny_long.csv").read_bytes())
    at = upload(at, "bad.csv", b"item_id,model,score\n1,a,7\n2,a,x\n")
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert "bad.csv, row 1, column 'score'" in errors[0] and "row 2" in errors[0]
    assert "Traceback" not in errors[0]
    picker = at.selectbox(key="evalset_picker")
    assert len(picker.options) == 1  # only good.csv is stored
    assert list(board(at).index) == ["big", "small"]  # the page still works on what is stored


def test_unknown_costs_and_missing_scores_are_said_plainly(workspace_path):
    at = upload(page().run(), "missing.csv", (DATA / "tiny_missing.csv").read_bytes())
    assert not at.exception
    shown = board(at)
    assert shown.loc["b", "Missing"] == 2 and shown.loc["b", "Scored"] == 1
    assert "$ / item" not in shown.columns  # no fake zero costs
    words = texts(at)
    assert "Cost is unknown for a, b" in words
    assert "Latency is unknown" in words
    assert "No cost is known for the chosen models" in words


def test_model_choice_changes_the_leaderboard(workspace_path):
    at = upload(page().run(), "tiny.csv", (DATA / "tiny_long.csv").read_bytes())
    set_id = at.session_state["evalset_id"]
    at.multiselect(key=f"compare_models_{set_id}").set_value(["small"]).run()
    assert not at.exception
    assert list(board(at).index) == ["small"]
    assert "Choose two or more models" in texts(at)
    at.multiselect(key=f"compare_models_{set_id}").set_value([]).run()
    assert any("Choose at least one model" in w.value for w in at.warning)


def test_inputs_only_upload_points_to_live_run(workspace_path):
    at = upload(page().run(), "inputs.csv", (DATA / "tiny_inputs.csv").read_bytes())
    assert not at.exception
    assert any("inputs only" in i.value for i in at.info)


def test_delete_an_eval_set(workspace_path):
    at = upload(page().run(), "tiny.csv", (DATA / "tiny_long.csv").read_bytes())
    assert at.button(key="compare_delete").disabled
    at.checkbox(key="compare_confirm_delete").check().run()
    at.button(key="compare_delete").click().run()
    assert not at.exception, [e.value for e in at.exception]
    from core.evaluation.store import list_evalsets
    from core.workspace import open_workspace

    assert list_evalsets(open_workspace(workspace_path)).empty
    assert any("No eval set yet" in i.value for i in at.info)


def test_figure_builders():
    from core.evaluation.metrics import confusion, per_task
    from ui import compare_figures as figs

    es = load_csv(DATA / "tiny_long.csv")
    board = leaderboard(es)
    fig = figs.quality_cost_figure(board, log_cost=True)
    assert fig.layout.xaxis.type == "log"
    trace = fig.data[0]
    assert list(trace.x) == pytest.approx([0.02, 0.001]) and list(trace.text) == ["big", "small"]
    small = board.set_index("model").loc["small"]
    assert trace.error_y.array[1] == pytest.approx(small["quality_high"] - 2 / 3)
    assert trace.error_y.arrayminus[1] == pytest.approx(2 / 3 - small["quality_low"])
    assert figs.quality_cost_figure(board).layout.xaxis.type != "log"

    heat = figs.per_task_heatmap(per_task(es))
    assert list(heat.data[0].y) == ["math", "geo"] and list(heat.data[0].x) == ["big", "small"]
    assert np.asarray(heat.data[0].z).tolist() == [[1.0, 1.0], [1.0, 0.5]]

    labels, matrix = confusion(es, "small", "geo")
    conf = figs.confusion_figure(labels, matrix, "small")
    assert np.asarray(conf.data[0].z).tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 0]]

    table = figs.leaderboard_table(leaderboard(load_csv(DATA / "tiny_missing.csv")))
    assert "$ / item" not in table and "p95 ms" not in table and "Quality" in table

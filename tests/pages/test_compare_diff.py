"""Compare models, "Diff two versions or runs": the second upload of a file against its parent,
item by item (AppTest)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from core.evaluation.evalset import EvalSet
from core.settings import REPO_ROOT
from tests.helpers.apptest import run_clean, store

PAGE = str(REPO_ROOT / "app_pages" / "compare.py")


def version(name, scores, model="m", ids="abcde"):
    items = pd.DataFrame({"item_id": list(ids), "input": [f"question {i}" for i in ids]})
    return EvalSet.from_arrays(name, [model], score=np.array(scores, dtype=float).reshape(-1, 1),
                               items=items, cost=np.full((len(ids), 1), 0.002))


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["_sample_checked"] = True
    return at



def test_diff_of_two_versions_lists_regressions_and_improvements_by_change(workspace_path):
    first = store(workspace_path, version("x.csv", [1, 1, 0, 0.5, 1]))
    second = store(workspace_path, version("x.csv", [0, 0.75, 1, 0.5, 1]))
    at = run_clean(page())
    assert at.session_state["evalset_id"] == second
    assert at.selectbox(key=f"diff_other_{second}").value == first  # its parent, by default
    regressions, improvements = at.dataframe[-2].value, at.dataframe[-1].value
    assert regressions[["item_id", "score_a", "score_b", "change"]].values.tolist() == [
        ["a", 1.0, 0.0, -1.0], ["b", 1.0, 0.75, -0.25]]
    assert improvements[["item_id", "change"]].values.tolist() == [["c", 1.0]]
    words = "\n".join(c.value for c in at.caption) + "\n".join(m.value for m in at.markdown)
    assert "5 items scored in both: 2 regressed, 1 improved, 2 unchanged; mean change -0.050" in words
    assert "**Regressions** (2), largest drop first" in words


def test_diff_with_a_run_of_another_model_and_without_any_other_set(workspace_path):
    only = store(workspace_path, version("x.csv", [1, 1, 0, 0, 1]))
    at = run_clean(page())
    assert any("Store another version of this eval set" in c.value for c in at.caption)
    run = store(workspace_path, version("Live run: x.csv", [1, 0, 1, 1, 1], model="openai:m-2026",
                                        ids="abcdf"))
    at.selectbox(key="evalset_picker").set_value(only)
    run_clean(at)
    at.selectbox(key=f"diff_other_{only}").set_value(run)
    run_clean(at)
    assert at.selectbox(key=f"diff_model_a_{only}_{run}").value == "openai:m-2026"
    regressions, improvements = at.dataframe[-2].value, at.dataframe[-1].value
    # B (x.csv) - A (the run): b 1-0, d 0-1, c 0-1; e only in x.csv, f only in the run
    assert regressions["item_id"].tolist() == ["c", "d"]
    assert improvements["item_id"].tolist() == ["b"]
    assert any("not compared: 1 only in A" in c.value and "1 only in B" in c.value
               for c in at.caption)

"""Scorers applied per task to stored eval sets: scores stored and reused for the same scorer and
version, the plan remembered with the eval set, the reference column round-tripping."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.evaluation import score_store
from core.evaluation.evalset import to_long_csv
from core.evaluation.loading import load_csv
from core.evaluation.rescore import apply_parts, apply_plan, score_task, set_scorer
from core.evaluation.scorers import parse_scorer
from core.evaluation.store import delete_evalset, load_evalset, save_evalset

CSV = b"""item_id,model,input,task,reference,output,score
1,big,2+2?,math,4,The answer is 4,1
1,small,2+2?,math,4,four,1
2,big,10/4?,math,2.5,2.5,1
2,small,10/4?,math,2.5,2.4,0
3,big,Capital of France?,geo,Paris,Paris,1
3,small,Capital of France?,geo,Paris,paris,0
"""


@pytest.fixture
def es():
    return load_csv(CSV, name="open.csv")


def test_the_reference_column_is_an_item_column_that_round_trips(ws, es):
    assert es.items["reference"].tolist() == ["4", "2.5", "Paris"]
    assert "reference" not in es.metadata_columns
    stored = load_evalset(ws, save_evalset(ws, es))
    assert stored.items["reference"].tolist() == ["4", "2.5", "Paris"]
    assert load_csv(to_long_csv(stored), name="copy.csv").items["reference"].tolist() == ["4", "2.5", "Paris"]


def test_inputs_only_files_carry_a_reference(tmp_path):
    path = tmp_path / "inputs.csv"
    path.write_text("input,reference\nSummarise: the cat sat,A cat sat.\n")
    assert load_csv(path).items["reference"].tolist() == ["A cat sat."]


def test_a_task_is_scored_and_the_others_keep_the_file_scores(es):
    part = score_task(None, es, parse_scorer("numeric:0.01"), task="math")
    scored = apply_parts(es, [part]).evalset
    # math: big 4 and 2.5 right; small "four" unparsed (0) and 2.4 off by 0.1 (0)
    assert scored.score[:2].tolist() == [[1.0, 0.0], [1.0, 0.0]]
    assert scored.score[2].tolist() == [1.0, 0.0]  # geo: the file's scores
    assert part.scores.unparsed.tolist() == [0, 1]


def test_an_unknown_task_is_refused(es):
    with pytest.raises(InputError, match="no task 'history'"):
        score_task(None, es, parse_scorer("exact"), task="history")


def test_scores_are_stored_and_reused_for_the_same_scorer_and_version(ws, es):
    first = score_task(ws, es, parse_scorer("numeric:0.01"), task="math")
    assert (first.computed, first.reused) == (4, 0)
    again = score_task(ws, es, parse_scorer("numeric:0.01"), task="math")
    assert (again.computed, again.reused) == (0, 4)
    assert np.array_equal(first.scores.score, again.scores.score, equal_nan=True)
    assert again.scores.unparsed.tolist() == [0, 1]  # "four" stays unparsed when reused
    other = score_task(ws, es, parse_scorer("numeric:0.2"), "math")  # another scorer
    assert (other.computed, other.reused) == (4, 0)
    assert other.scores.score[1, 1] == 1.0  # 2.4 is within 0.2 of 2.5
    # a re-upload of the same answers is recognised by content, not by eval-set id
    copy = load_csv(CSV, name="copy.csv")
    assert score_task(ws, copy, parse_scorer("numeric:0.01"), "math").reused == 4


def test_a_new_version_is_a_new_scorer(ws, es, monkeypatch):
    from core.evaluation.scorers.exact import ExactMatch

    score_task(ws, es, ExactMatch())
    monkeypatch.setattr(ExactMatch, "version", "2")
    assert score_task(ws, es, ExactMatch()).reused == 0


def test_the_plan_is_stored_with_the_eval_set(ws, es):
    set_id = save_evalset(ws, es)
    set_scorer(ws, set_id, es, parse_scorer("exact"))  # every task
    set_scorer(ws, set_id, es, parse_scorer("numeric:0.01"), task="math")  # math's own wins
    scored = apply_plan(ws, set_id, load_evalset(ws, set_id))
    assert scored.scorer_of_task() == {"math": "numeric:0.01", "geo": "exact"}
    assert scored.evalset.score.tolist() == [[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    board = scored.breakdown().set_index(["scorer", "model"])
    assert board.loc[("numeric:0.01", "small"), "unparsed"] == 1
    assert board.loc[("exact", "small"), "quality"] == 1.0
    assert board.loc[("exact", "big"), "scored"] == 1  # geo only: math has its own scorer
    before = score_store.plan_version(ws, set_id)
    set_scorer(ws, set_id, es, None, task="math")
    assert score_store.plan_version(ws, set_id) != before
    assert apply_plan(ws, set_id, es).scorer_of_task() == {"math": "exact", "geo": "exact"}
    delete_evalset(ws, set_id)
    assert score_store.get_plan(ws, set_id).empty


def test_a_refused_scorer_leaves_the_plan_unchanged(ws, es):
    set_id = save_evalset(ws, es)
    with pytest.raises(InputError, match="a number"):
        set_scorer(ws, set_id, es, parse_scorer("numeric"), task="geo")  # 'Paris' is no number
    assert score_store.get_plan(ws, set_id).empty


def test_calibrated_similarity_is_stored_with_its_threshold(ws):
    rows = []
    good = ["refund my order please", "please refund the order", "refund it", "a refund please",
            "refund my order now", "I want a refund"]
    bad = ["the weather is nice", "capital of France", "a blue sky", "my cat sleeps",
           "football results", "stock prices"]
    for k, text in enumerate(good + bad):
        rows.append({"item_id": str(k), "model": "m", "reference": "refund my order", "output": text,
                     "score": 1.0 if k < 6 else 0.0})
    es = load_csv(pd.DataFrame(rows).to_csv(index=False).encode(), name="sim.csv")
    set_id = save_evalset(ws, es)
    part = set_scorer(ws, set_id, es, parse_scorer("similarity"))
    plan = score_store.get_plan(ws, set_id)
    assert plan["params"][0]["threshold"] == pytest.approx(float(part.label.split(":")[1]), abs=1e-4)
    assert plan["info"][0]["rows"] == 12
    again = apply_plan(ws, set_id, es)
    assert again.parts[0].reused == 12

"""Eval-set load at the I/O limit (issue 13, item 21): a clean long file is read once, typed, by
DuckDB; a file with anything to report (a cell that is not a number, one out of range, a broken
row) goes to the text path, which names every problem by row with the cells as written."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.evaluation import csv_io, loading
from core.evaluation.loading import load_csv
from core.settings import REPO_ROOT

SAMPLE = REPO_ROOT / "data" / "sample_evalset.csv"


def _no_text_pass(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the long file was read as text a second time")

    monkeypatch.setattr(loading, "read_text_table", refuse)


def test_a_clean_long_file_is_read_once_typed(monkeypatch, tmp_path):
    _no_text_pass(monkeypatch)
    path = tmp_path / "evals.csv"
    path.write_text('item_id,model,score,cost_usd,note\n1,a,1,0.5,"two\nlines"\n1,b,0,0.25,x\n'
                    " 2 ,a,0.5,,y\n2,b ,,0.125,z\n")
    es = load_csv(path)
    assert es.models == ("a", "b") and es.items["item_id"].tolist() == ["1", "2"]  # trimmed keys
    assert es.score.tolist()[0] == [1.0, 0.0] and es.score[1, 0] == 0.5 and np.isnan(es.score[1, 1])
    assert np.isnan(es.cost[1, 0]) and es.cost[1, 1] == 0.125 and es.cost[0].tolist() == [0.5, 0.25]
    assert es.items["note"].tolist() == ["two\nlines", "y"]


def test_bad_cells_are_named_by_row_as_the_file_has_them(tmp_path):
    path = tmp_path / "bad.csv"
    # row 2 is a multi-line record; row 3's score is not a number (the typed reader refuses it);
    # rows 4-6 are numbers out of range, quoted as written (not as the float they parse to);
    # row 7 repeats row 1's cell and has a blank model on a bad row
    path.write_text('item_id,model,score,input\n1,a,1,x\n2,a,0,"a\nb"\n3,a,high,y\n'
                    "4,a,7.0,z\n5,a,NaN,z\n6,a,1e400,z\n1,a,0,w\n7,,x,v\n")
    with pytest.raises(InputError) as err:
        load_csv(path)
    problems = [(p.row, p.column, p.got) for p in err.value.problems]
    assert problems == [(3, "score", "high"), (4, "score", "7.0"), (5, "score", "NaN"),
                        (6, "score", "1e400"), (7, "item_id", None), (8, "model", ""),
                        (8, "score", "x")]
    assert "also on row 1" in err.value.problems[4].expected


def test_a_bad_number_sends_the_file_to_the_text_path(tmp_path, monkeypatch):
    path = tmp_path / "bad.csv"
    types = {"item_id": "VARCHAR", "model": "VARCHAR", "score": "DOUBLE"}
    path.write_text("item_id,model,score\n1,a,0.5\n2,a,high\n")
    assert csv_io.read_typed_table(path, ",", types) is None
    path.write_text("item_id,model,score\n1,a,0.5\n2,a,7\n")  # typed fine, out of range
    assert csv_io.read_typed_table(path, ",", types) is not None
    _no_text_pass(monkeypatch)
    with pytest.raises(AssertionError, match="read as text a second time"):
        load_csv(path)


def test_typed_and_text_paths_agree_on_the_sample(monkeypatch):
    typed = load_csv(SAMPLE)
    monkeypatch.setattr(loading, "read_typed_table", lambda *a, **k: None)  # the text path
    text = load_csv(SAMPLE)
    assert typed.models == text.models
    for field in ("score", "cost", "latency_ms", "confidence", "input_tokens", "output_tokens"):
        np.testing.assert_array_equal(getattr(typed, field), getattr(text, field))
    assert (typed.prediction == text.prediction).all() and typed.items.equals(text.items)


def test_a_file_the_typed_reader_refuses_is_diagnosed_row_by_row(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("item_id,model,score\n1,a,1\n2,a,0,9\n")
    assert csv_io.read_typed_table(path, ",", {"item_id": "VARCHAR", "model": "VARCHAR",
                                               "score": "DOUBLE"}) is None
    with pytest.raises(InputError, match="row 2: expected 3 fields"):
        load_csv(path)

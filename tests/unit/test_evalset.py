"""Eval-set loading: the three layouts, every validation error, and the workspace round trip.

Arrays are checked against values computed by hand from the tiny CSVs in tests/data/.
"""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.evaluation.loading import load_csv
from core.evaluation.store import delete_evalset, list_evalsets, load_evalset, save_evalset
from core.settings import REPO_ROOT

DATA = REPO_ROOT / "tests" / "data"


def nan_equal(a, b) -> bool:
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


def error_of(content: bytes, name: str = "bad.csv") -> InputError:
    with pytest.raises(InputError) as info:
        load_csv(content, name=name)
    return info.value


# -- the three layouts ------------------------------------------------------------------------
def test_long_layout_arrays_by_hand():
    es = load_csv(DATA / "tiny_long.csv")
    assert es.format == "long"
    assert es.models == ("big", "small")
    assert es.items["item_id"].tolist() == ["1", "2", "3"]
    assert es.items["task"].tolist() == ["math", "geo", "geo"]
    assert es.items["segment"].tolist() == ["free", "pro", "free"]  # metadata kept per item
    # No score column: correctness is the normalized prediction == label ('Blue', ' blue ' match).
    assert nan_equal(es.score, [[1, 1], [1, 0], [1, 1]])
    assert nan_equal(es.cost, [[0.02, 0.001]] * 3)
    assert nan_equal(es.latency_ms, [[100, 10], [200, 20], [300, 30]])
    assert nan_equal(es.confidence, [[0.9, 0.8], [0.95, 0.6], [np.nan, 0.7]])
    assert es.prediction[1].tolist() == ["Paris", "Lyon"]
    assert es.cost_source == {"big": "reported", "small": "reported"}


def test_long_missing_scores_stay_missing():
    es = load_csv(DATA / "tiny_missing.csv")
    assert es.models == ("a", "b")
    # b has a blank score on item 1 and no row at all for item 3: both missing, not zero.
    assert nan_equal(es.score, [[1, np.nan], [0, 1], [1, np.nan]])
    assert es.missing_scores() == {"a": 0, "b": 2}
    assert es.cost_source == {"a": "unknown", "b": "unknown"}
    assert np.isnan(es.cost).all()


def test_given_score_wins_over_prediction_match():
    es = load_csv(b"item_id,model,label,prediction,score\n1,a,x,y,0.5\n2,a,x,x,\n", name="s.csv")
    assert nan_equal(es.score, [[0.5], [1.0]])


def test_wide_routerbench_layout():
    es = load_csv(DATA / "tiny_wide.csv")
    assert es.format == "wide"
    assert es.models == ("m1", "m2")
    assert es.items["item_id"].tolist() == ["q1", "q2", "q3"]
    assert es.items["input"].tolist() == ["What is 1+1?", "What is 2+3?", "What is 3+3?"]
    assert es.items["task"].tolist() == ["arith"] * 3
    assert "oracle_model_to_route_to" in es.items  # kept as metadata; the blank index column is not
    assert not any(c.startswith("column") or c == "" for c in es.items.columns)
    assert nan_equal(es.score, [[1, 0], [0, 1], [np.nan, 1]])
    assert nan_equal(es.cost, [[0.001, 0.01], [0.002, 0.02], [0.003, 0.03]])
    assert es.output[:, 1].tolist() == ["3", "5", "6"]


def test_inputs_only_layout():
    es = load_csv(DATA / "tiny_inputs.csv")
    assert es.format == "inputs"
    assert es.models == ()
    assert es.score.shape == (2, 0)
    assert es.items["item_id"].tolist() == ["1", "2"]
    assert es.items["input"].tolist() == ["Reset my password, please", "Cancel my plan"]
    assert es.items["segment"].tolist() == ["free", "pro"]


def test_routerbench_test_split_loads(routerbench_test):
    es = load_csv(routerbench_test)
    assert es.format == "wide" and es.score.shape == (445, 11)
    assert int(np.isnan(es.score).any(axis=1).sum()) == 8  # split records: some model blank
    assert any("repeated item id" in n for n in es.notes)
    assert not np.isnan(es.cost).any()


def test_bytes_file_object_and_path_agree(tmp_path):
    raw = (DATA / "tiny_long.csv").read_bytes()
    from_bytes = load_csv(raw, name="x.csv")
    import io

    buf = io.BytesIO(raw)
    buf.name = "x.csv"
    from_file = load_csv(buf)
    assert from_file.name == "x.csv"
    assert nan_equal(from_bytes.score, from_file.score)


def test_crlf_bom_blank_lines_and_quoted_commas():
    es = load_csv(b"\xef\xbb\xbfitem_id,model,input,score\r\n1,a,\"x, \"\"y\"\"\",1\r\n\r\n2,a,\"two\nlines\",0\r\n",
                  name="ok.csv")
    assert es.items["item_id"].tolist() == ["1", "2"]
    assert es.items["input"].tolist() == ['x, "y"', "two\nlines"]
    assert nan_equal(es.score, [[1], [0]])


def test_semicolon_separated_file_loads():
    es = load_csv(b"item_id;model;score\n1;a;1\n2;a;0\n", name="semi.csv")
    assert nan_equal(es.score, [[1], [0]])


def test_pipe_and_tab_separated_files_load_the_right_models():
    # a '|' file used to load as one wide column: one "model" named item_id, exit 0
    es = load_csv(b"item_id|model|score\ni1|a|1\n", name="pipe.csv")
    assert es.models == ("a",) and es.items["item_id"].tolist() == ["i1"]
    assert nan_equal(es.score, [[1]])
    es = load_csv(b"item_id\tmodel\tscore\toutput\ni1\ta\t0\tyes, sir\ni1\tb\t1\tno\n", name="tab.csv")
    assert es.models == ("a", "b") and nan_equal(es.score, [[0, 1]])
    # wide headers hold '|' inside comma-separated columns: still commas
    es = load_csv(b"item_id,M,M|model_response\ni1,1,\"x|y\"\n", name="wide.csv")
    assert es.models == ("M",)


def test_header_and_rows_with_different_delimiters_are_refused_naming_both():
    # it loaded as '|' and reported each row as "expected 3 fields, got 1 fields"
    err = error_of(b"item_id|model|score\ni1,a,1\ni2,a,0\n")
    assert "the header is separated by pipes ('|') but the rows below it by commas" in str(err)


def test_unknown_delimiter_is_refused_naming_it():
    err = error_of(b"item_id:model:score\ni1:a:1\n")
    assert "separated by ':'" in str(err) and "'|'" in str(err)


# -- bad input: every problem at once, with row and column --------------------------------------
def test_wrong_field_counts_list_every_row():
    err = error_of(b"item_id,model,score\n1,a,1\n2,b,1,5\n3,a\n4,a,1\n5,a,1,2,3\n")
    rows = [(p.row, p.column, p.got) for p in err.problems]
    assert rows == [(2, None, "4 fields"), (3, "score", "2 fields"), (5, None, "5 fields")]
    assert all(p.expected == "3 fields, as in the header" for p in err.problems)
    assert "bad.csv, row 3, column 'score'" in str(err)


def test_unterminated_quote_names_its_row():
    err = error_of(b'item_id,model,input\n1,a,ok\n2,a,"hello\n3,a,x\n')
    assert len(err.problems) == 1
    p = err.problems[0]
    assert p.row == 2 and "quoted" in p.expected and "line 3" in p.expected


def test_stray_quote_inside_quoted_field():
    err = error_of(b'item_id,model,input\n1,a,"hel"lo"\n')
    assert err.problems[0].row == 1
    assert "quoted" in err.problems[0].expected


def test_wrong_types_and_ranges_all_listed():
    err = error_of(b"item_id,model,score,cost_usd,latency_ms,confidence\n"
                   b"1,a,abc,0.1,5,0.5\n2,a,1.5,-1,5,0.5\n3,a,0.5,0.1,-3,2\n4,a,nan,0.1,5,0.5\n")
    got = [(p.row, p.column, p.got) for p in err.problems]
    assert got == [(1, "score", "abc"), (2, "score", "1.5"), (2, "cost_usd", "-1"),
                   (3, "latency_ms", "-3"), (3, "confidence", "2"), (4, "score", "nan")]
    assert "a number between 0 and 1" in err.problems[0].expected
    assert "non-negative" in err.problems[2].expected
    assert "bad.csv, row 1, column 'score': expected a number between 0 and 1" in str(err)


def test_duplicate_item_model_rows():
    err = error_of(b"item_id,model,score\n1,a,1\n2,a,1\n1,a,0\n1,b,1\n")
    assert len(err.problems) == 1
    p = err.problems[0]
    assert p.row == 3 and p.column == "item_id" and "also on row 1" in p.expected


def test_blank_keys():
    err = error_of(b"item_id,model,score\n1,,1\n,a,0\n")
    assert [(p.row, p.column) for p in err.problems] == [(1, "model"), (2, "item_id")]


def test_empty_and_header_only_files():
    assert "empty" in str(error_of(b""))
    assert "header but no data rows" in str(error_of(b"item_id,model,score\n"))


def test_missing_required_columns():
    err = error_of(b"foo,bar\n1,2\n")
    assert "'item_id' and 'model'" in str(err) and "'foo', 'bar'" in str(err)


def test_repeated_column_names():
    err = error_of(b"item_id,model,score,score\n1,a,1,0\n")
    assert [p.column for p in err.problems] == ["score"]


def test_non_utf8_bytes_name_row_and_column():
    err = error_of(b"item_id,model,input,score\n1,a,ok,1\n2,a,caf\xe9,1\n")
    p = err.problems[0]
    assert (p.row, p.column) == (2, "input")
    assert "UTF-8" in p.expected and "e9" in p.got


def test_binary_and_non_csv_files():
    assert "not a CSV text file" in str(error_of(bytes(range(256)) * 20))
    assert "spreadsheet" in str(error_of(b"PK\x03\x04\x00\x00binary-zip"))
    msg = str(error_of(b'{"a": 1, "b": [1, 2, 3]}\n'))
    assert "bad.csv" in msg and "/tmp" not in msg


def test_wide_bad_values_use_item_ids():
    err = error_of(b"sample_id,a,a|total_cost\ns1,2,x\ns2,1,0.1\ns3,0.5,-2\n")
    got = [(p.row, p.column, p.got) for p in err.problems]
    assert got == [(1, "a", "2"), (1, "a|total_cost", "x"), (3, "a|total_cost", "-2")]
    assert "item_id s3" in err.problems[2].expected


def test_inputs_only_blank_input_and_duplicate_ids():
    err = error_of(b"item_id,input\n1,hi\n2,\n1,again\n")
    assert [(p.row, p.column) for p in err.problems] == [(2, "input"), (3, "item_id")]


def test_many_bad_rows_reported_at_once():
    body = b"item_id,model,score\n" + b"".join(b"%d,a,%s\n" % (i, b"2" if i % 2 else b"1")
                                              for i in range(1, 201))
    err = error_of(body)
    assert len(err.problems) == 100
    assert [p.row for p in err.problems][:3] == [1, 3, 5]
    assert "... and 80 more" in str(err)
    assert "(+97 more)" in err.one_line() and "\n" not in err.one_line()


def test_missing_file_path(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_csv(tmp_path / "nope.csv")


# -- the workspace round trip --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tiny_long.csv", "tiny_missing.csv", "tiny_wide.csv", "tiny_inputs.csv"])
def test_store_round_trip(ws, name):
    original = load_csv(DATA / name)
    set_id = save_evalset(ws, original)
    back = load_evalset(ws, set_id)
    assert back.models == original.models and back.format == original.format
    for field in ("score", "cost", "latency_ms", "confidence"):
        assert nan_equal(getattr(back, field), getattr(original, field)), field
    assert back.prediction.tolist() == original.prediction.tolist()
    assert back.output.tolist() == original.output.tolist()
    cols = [c for c in original.items.columns]
    assert back.items[cols].astype(object).where(back.items[cols].notna(), None).values.tolist() == \
        original.items.astype(object).where(original.items.notna(), None).values.tolist()
    assert back.cost_source == original.cost_source
    assert back.notes == original.notes


def test_bad_file_stores_nothing_and_keeps_what_is_there(ws):
    kept = save_evalset(ws, load_csv(DATA / "tiny_long.csv"))
    before = list_evalsets(ws)
    with pytest.raises(InputError):
        save_evalset(ws, load_csv(b"item_id,model,score\n1,a,7\n", name="bad.csv"))
    after = list_evalsets(ws)
    assert after["id"].tolist() == before["id"].tolist() == [kept]
    assert load_evalset(ws, kept).models == ("big", "small")


def test_failed_save_rolls_back(ws, monkeypatch):
    es = load_csv(DATA / "tiny_long.csv")
    import core.evaluation.store as store

    monkeypatch.setattr(store, "RESULT_COLUMNS", store.RESULT_COLUMNS + ["no_such_column"])
    with pytest.raises(KeyError, match="no_such_column"):
        save_evalset(ws, es)
    assert list_evalsets(ws).empty
    assert ws.cursor().execute("select count(*) from evalset_items").fetchone()[0] == 0


def test_delete(ws):
    a = save_evalset(ws, load_csv(DATA / "tiny_long.csv"))
    b = save_evalset(ws, load_csv(DATA / "tiny_wide.csv"))
    delete_evalset(ws, a)
    assert list_evalsets(ws)["id"].tolist() == [b]
    with pytest.raises(InputError):
        load_evalset(ws, a)


# -- export and properties on random files ------------------------------------------------------
@pytest.mark.parametrize("name", ["tiny_long.csv", "tiny_missing.csv", "tiny_wide.csv", "tiny_inputs.csv"])
def test_long_export_reads_back_the_same(name):
    from core.evaluation.evalset import to_long_csv

    original = load_csv(DATA / name)
    back = load_csv(to_long_csv(original), name="export.csv")
    assert back.models == original.models
    assert back.items["item_id"].tolist() == original.items["item_id"].tolist()
    assert list(back.items.columns) == list(original.items.columns)
    for field in ("score", "cost", "latency_ms", "confidence"):
        assert nan_equal(getattr(back, field), getattr(original, field)), field
    assert back.output.tolist() == original.output.tolist()


def test_random_long_file_lands_in_the_right_cells():
    rng = np.random.default_rng(3)
    models = ["m-b", "m-a", "m-c"]
    expected = np.full((40, 3), np.nan)
    lines = []
    for i in range(40):
        for j, model in enumerate(models):
            if rng.random() < 0.15:
                continue  # no row for this pair: missing
            expected[i, j] = round(float(rng.random()), 3)
            lines.append(f"it{i},{model},{expected[i, j]}")
    order = rng.permutation(len(lines))
    body = "item_id,model,score\n" + "\n".join(lines[k] for k in order) + "\n"
    es = load_csv(body.encode(), name="rand.csv")
    assert es.models == ("m-a", "m-b", "m-c")  # sorted
    rows = [int(i[2:]) for i in es.items["item_id"]]  # first-appearance order of the file
    cols = [models.index(m) for m in es.models]
    assert nan_equal(es.score, expected[np.ix_(rows, cols)])


def test_normalize_answers():
    from core.evaluation.answers import normalize_answers

    got = normalize_answers(np.array([[" Blue ", None], ["PARIS", "paris"]], dtype=object))
    assert got.tolist() == [["blue", None], ["paris", "paris"]]


@pytest.mark.parametrize("answer,label", [
    ("Straße", "STRASSE"),            # case folding, not lower-casing: ß folds to ss
    ("Café", "Cafe\u0301"),           # composed and decomposed accents
    ("ＢＩＬＬＩＮＧ", "billing"),       # full-width letters (NFKC)
    ("new\u00a0 york", "New York"),    # no-break space and runs of spaces
    ("ﬁle", "FILE"),                  # the fi ligature
])
def test_one_normalisation_rule_everywhere(answer, label):
    """Upload, live results, agreement and the cache's label check compare answers alike."""
    from core.evaluation.answers import normalize_answers
    from core.evaluation.evalset import EvalSet
    from core.routing.signals import Agreement

    body = f"item_id,model,label,prediction\n1,m,{label},{answer}\n1,n,{label},{label}\n"
    es = load_csv(body.encode("utf-8"), name="u.csv")
    assert es.score[0].tolist() == [1.0, 1.0]  # upload: right
    assert normalize_answers([answer])[0] == normalize_answers([label])[0]
    pair = EvalSet.from_arrays("t", ["m", "n"], score=[[1, 1]], prediction=[[answer, label]])
    assert Agreement(["m", "n"]).scores(pair, "m").tolist() == [1.0]  # agreement: same answer
    assert normalize_answers(["Straße"])[0] != normalize_answers(["Strasse!"])[0]


def test_results_without_key_columns_are_not_read_as_inputs_only():
    err = error_of(b"model,input,score\na,hi,1\n")
    assert [(p.column, p.got) for p in err.problems] == [("item_id", "no such column")]
    err = error_of(b"item_id,input,score\n1,hi,1\n")
    assert [p.column for p in err.problems] == ["model"]
    assert "'score'" in err.problems[0].expected


def test_wide_text_literals_unwrapped():
    body = (b"sample_id,prompt,m,m|model_response\n"
            b"a,\"['plain']\",1,\"['it\\'s']\"\n"
            b"b,\"['x', 'y']\",0,not a literal\n")
    es = load_csv(body, name="lit.csv")
    assert es.items["input"].tolist() == ["plain", "x\ny"]
    assert es.output[:, 0].tolist() == ["it's", "not a literal"]


# -- very wide files (thousands of models) -------------------------------------------------------
def wide_bytes(models: int, rows: list[list[str]] | None = None) -> bytes:
    """sample_id, prompt, then per model M, M|model_response, M|total_cost; 3 items."""
    header = ["sample_id", "prompt"]
    for j in range(models):
        header += [f"m{j}", f"m{j}|model_response", f"m{j}|total_cost"]
    lines = [",".join(header)]
    for i in range(3):
        cells = [f"s{i}", f"['q{i}']"]
        for j in range(models):
            cells += [str((i + j) % 2), f"['ans {i}-{j}']", f"{(j + 1) * 1e-6:.6f}"]
        lines.append(",".join(cells))
    lines += [",".join(r) for r in rows or []]
    return ("\n".join(lines) + "\n").encode()


def test_a_wide_file_of_thousands_of_models_loads_every_cell_in_place():
    """1,200 models (3,602 columns, past csv_io.WIDE_COLUMNS): each value lands at its model.
    (The time it takes, linear in the width, is measured by bench.bench_wide.)"""
    es = load_csv(wide_bytes(1200), name="wide.csv")
    assert es.format == "wide" and es.score.shape == (3, 1200)
    j = es.models.index("m1037")
    assert nan_equal(es.score[:, j], [(i + 1037) % 2 for i in range(3)])
    assert es.cost[:, j] == pytest.approx([1038e-6] * 3)
    assert list(es.output[:, j]) == [f"ans {i}-1037" for i in range(3)]
    assert es.items["input"].tolist() == ["q0", "q1", "q2"]
    assert es.items["item_id"].tolist() == ["s0", "s1", "s2"]


def test_a_wide_file_with_bad_rows_names_them():
    ragged = wide_bytes(1100).decode().rstrip("\n") + "\ns9,x\n"
    err = error_of(ragged.encode(), "wide.csv")
    assert "row 4" in str(err) and "3302 fields" in str(err)
    unclosed = wide_bytes(1100).decode() + 's9,"never closed\n'
    err = error_of(unclosed.encode(), "wide.csv")
    assert "row 4" in str(err) and "properly quoted" in str(err)
    bad_cost = wide_bytes(1100).decode().replace("0.000005,", "abc,", 1)
    err = error_of(bad_cost.encode(), "wide.csv")
    assert "wide.csv, row 1, column 'm4|total_cost'" in str(err)


def test_a_nul_byte_in_a_name_is_refused_where_it_is():
    err = error_of(b"item_id,model,score\n1,a,1\n2,b\x00c,1\n")
    assert [(p.row, p.column) for p in err.problems] == [(2, "model")]
    assert "NUL" in err.problems[0].expected


def test_a_field_over_the_row_limit_is_named_with_its_size():
    err = error_of(b"item_id,model,score,output\n1,a,1," + b"y" * 2_300_000 + b"\n")
    assert "CSV Error on Line" not in str(err)
    p = err.problems[0]
    assert (p.row, p.column) == (1, "output") and "under 2 MB" in p.expected
    assert "2,300,000 characters" in p.got


def test_utf16_says_which_encoding_to_save_in():
    err = error_of("item_id,model,score\n1,a,1\n".encode("utf-16"))
    assert "UTF-16 text; save it as CSV UTF-8" in str(err)

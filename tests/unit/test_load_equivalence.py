"""The long layout's EvalSet equals a plain, row-by-row reading of the file (issue 13, item 21).

Random long CSVs (seeded) with repeated item ids, keys padded with spaces, blank cells, labels
and predictions without scores, several tasks, costs from token counts, quoted text with commas
and line breaks; rows in item x model order (the matrices are a reshape), shuffled (a gather) or
with (item, model) cells missing (a scatter). The reference below reads the file with Python's
csv module and fills each cell by hand, so it shares no code with the loader's vectorised path;
the text path (every cell read as text, then parsed) must agree as well.
"""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from core.errors import InputError
from core.evaluation import loading
from core.evaluation.answers import normalize_answers
from core.evaluation.loading import load_csv
from core.pricing.catalog import default_catalog

NUMBERS = ("score", "confidence", "input_tokens", "output_tokens", "cached_input_tokens",
           "cost_usd", "latency_ms")
HEADER = ["item_id", "model", "input", "task", "label", "prediction", "output", *NUMBERS,
          "segment"]
MODELS = ["gpt-4o-mini", "claude-sonnet-4-5-20250929", "local-b", "local-a"]  # 2 priced
ANSWERS = ["Yes", " yes", "no", "No.", "maybe", ""]


def _number(rng: np.random.Generator, scale: float, blank: float = 0.3) -> str:
    if rng.random() < blank:
        return ""
    value = round(float(rng.random() * scale), int(rng.integers(0, 6)))
    text = repr(value) if rng.random() < 0.7 else f"{value:g}"
    return f" {text} " if rng.random() < 0.05 else text  # spaces around a number are accepted


def _pad(rng: np.random.Generator, key: str) -> str:
    return f" {key}" if rng.random() < 0.1 else key  # keys are trimmed


def _random_csv(seed: int, layout: str) -> tuple[str, list[list[str]]]:
    rng = np.random.default_rng(seed)
    n_items = int(rng.integers(1, 40))
    models = list(rng.permutation(MODELS)[: int(rng.integers(1, len(MODELS) + 1))])
    ids = [f"q{int(i)}" for i in rng.permutation(200)[:n_items]]
    rows = []
    for item in ids:
        task = str(rng.choice(["qa", "math", "code"]))
        label = str(rng.choice(ANSWERS))
        text = str(rng.choice(["plain", 'with "quotes", and commas', "two\nlines", ""]))
        chosen = [m for m in sorted(models)
                  if layout != "missing" or rng.random() < 0.7] or [models[0]]
        for model in chosen:
            rows.append([_pad(rng, item), _pad(rng, model), f"{text} {item}", task, label,
                         str(rng.choice(ANSWERS)), str(rng.choice(["", "out", "a, b", "x\ny"])),
                         _number(rng, 1.0, 0.4), _number(rng, 1.0), _number(rng, 5000, 0.4),
                         _number(rng, 800, 0.4), _number(rng, 100, 0.7), _number(rng, 0.01, 0.5),
                         _number(rng, 3000), str(rng.choice(["", "gold", "free"]))])
    if layout == "shuffled":
        rows = [rows[i] for i in rng.permutation(len(rows))]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([HEADER, *rows])
    return buffer.getvalue(), rows


def _reference(rows: list[list[str]]) -> dict:
    """Each cell filled by hand from the csv module's rows."""
    col = {c: i for i, c in enumerate(HEADER)}
    item_ids = list(dict.fromkeys(r[0].strip() for r in rows))
    models = sorted({r[1].strip() for r in rows})
    n, m = len(item_ids), len(models)
    out = {f: np.full((n, m), np.nan) for f in NUMBERS}
    out.update(prediction=np.full((n, m), None, dtype=object),
               output=np.full((n, m), None, dtype=object))
    first: dict[str, list[str]] = {}
    catalog = default_catalog()
    for r in rows:
        i, j = item_ids.index(r[0].strip()), models.index(r[1].strip())
        first.setdefault(r[0].strip(), r)
        for f in NUMBERS:
            if r[col[f]].strip():
                out[f][i, j] = float(r[col[f]])
        for f in ("prediction", "output"):
            out[f][i, j] = r[col[f]] or None
        pred, gold = normalize_answers([r[col["prediction"]] or None, r[col["label"]] or None])
        if np.isnan(out["score"][i, j]) and pred is not None and gold is not None:
            out["score"][i, j] = float(pred == gold)
        tokens = [out[f][i, j] for f in ("input_tokens", "output_tokens", "cached_input_tokens")]
        if np.isnan(out["cost_usd"][i, j]) and not (np.isnan(tokens[0]) and np.isnan(tokens[1])):
            out["cost_usd"][i, j] = catalog.cost(models[j], *np.nan_to_num(tokens))
    items = {c: [first[i][col[c]] if first[i][col[c]].strip() else None for i in item_ids]
             for c in ("input", "task", "label")}  # as written; blank = missing
    items["segment"] = [first[i][col["segment"]] or None for i in item_ids]
    return {"item_ids": item_ids, "models": tuple(models), "arrays": out, "items": items}


def _cells(values) -> list:
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values]


def _check(es, expected: dict) -> None:
    assert es.models == expected["models"]
    assert es.items["item_id"].tolist() == expected["item_ids"]
    for column, values in expected["items"].items():
        assert _cells(es.items[column].tolist()) == values, column
    arrays = expected["arrays"]
    for field in NUMBERS:
        got = es.cost if field == "cost_usd" else getattr(es, field)
        np.testing.assert_allclose(got, arrays[field], rtol=1e-12, atol=0, err_msg=field)
    for field in ("prediction", "output"):
        assert getattr(es, field).tolist() == arrays[field].tolist(), field


@pytest.mark.parametrize("layout", ["ordered", "shuffled", "missing"])
@pytest.mark.parametrize("seed", range(6))
def test_long_evalset_equals_a_row_by_row_reading(tmp_path, monkeypatch, layout, seed):
    text, rows = _random_csv(seed, layout)
    path = tmp_path / "evals.csv"
    path.write_text(text)
    expected = _reference(rows)
    _check(load_csv(path), expected)
    monkeypatch.setattr(loading, "read_typed_table", lambda *a, **k: None)  # the text path
    _check(load_csv(path), expected)


@pytest.mark.parametrize("rows", [["1,a,1,0.5", "1,b,0,0.25", "2,a,1,0.5", "2,b,1,0.25"],
                                  ["2,b,1,0.25", "1,a,1,0.5", "2,a,1,0.5", "1,b,0,0.25"],
                                  ["1,a,1,0.5", "2,b,1,0.25"]], ids=["ordered", "shuffled", "missing"])
def test_matrices_are_writable_arrays_of_their_own(tmp_path, rows):
    path = tmp_path / "evals.csv"  # no blank cell: the reader's columns are zero-copy buffers
    path.write_text("\n".join(["item_id,model,score,cost_usd", *rows]) + "\n")
    es = load_csv(path)
    for field in ("score", "cost", "latency_ms", "confidence", "prediction", "output"):
        array = getattr(es, field)
        assert array.flags.writeable, field
        array[...] = array  # callers may write into an EvalSet's arrays
    assert not np.shares_memory(es.score, es.cost)


def test_a_nan_cell_is_refused_on_both_paths_with_its_row(tmp_path, monkeypatch):
    path = tmp_path / "nan.csv"
    path.write_text("item_id,model,score,cost_usd\n1,a,1,0.5\n1,b,NaN,0.25\n2,a,,inf\n")
    seen = []
    for typed in (True, False):
        if not typed:
            monkeypatch.setattr(loading, "read_typed_table", lambda *a, **k: None)
        with pytest.raises(InputError) as err:
            load_csv(path)
        seen.append([(p.row, p.column, p.got) for p in err.value.problems])
    assert seen[0] == seen[1] == [(2, "score", "NaN"), (3, "cost_usd", "inf")]  # as written

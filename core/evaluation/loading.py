"""Reading an eval set from CSV, in any of its three layouts (see :mod:`core.evaluation.evalset`).

* **long**: one row per (item, model): ``item_id, model`` plus any of ``input, task, label,
  reference, output, prediction, score, confidence, input_tokens, output_tokens,
  cached_input_tokens, cost_usd, latency_ms``; other columns become item metadata;
* **wide** (RouterBench): one row per item; per model ``M`` (score), ``M|model_response``,
  ``M|total_cost`` and any ``M|<field>``;
* **inputs only**: ``input`` (+ ``item_id, label, reference, task``, metadata) and no model
  columns.

>>> es = load_csv("tests/data/tiny_long.csv")
>>> es.models, es.score.shape
(('big', 'small'), (3, 2))

Costs the file does not report are priced from token counts with the catalog passed in
(:func:`core.pricing.catalog.default_catalog` when none is). Bad files raise
:class:`~core.errors.InputError` listing every bad row at once; nothing is stored.
"""
from __future__ import annotations

import ast
import io
import os
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import InputError, Problem
from core.evaluation.answers import normalize_answers
from core.evaluation.csv_io import (
    MAX_PROBLEMS,
    header_fields,
    read_text_table,
    read_typed_table,
    scratch_db,
    sniff_text,
)
from core.evaluation.evalset import (
    ITEM_COLUMNS,
    LONG_FIELDS,
    NUMERIC_FIELDS,
    RESERVED,
    TEXT_FIELDS,
    EvalSet,
)
from core.pricing.catalog import Catalog, default_catalog

_RANGES = {
    "score": (0.0, 1.0, "a number between 0 and 1"),
    "confidence": (0.0, 1.0, "a number between 0 and 1"),
    "input_tokens": (0.0, None, "a non-negative number"),
    "output_tokens": (0.0, None, "a non-negative number"),
    "cached_input_tokens": (0.0, None, "a non-negative number"),
    "cost_usd": (0.0, None, "a non-negative number of US dollars"),
    "latency_ms": (0.0, None, "a non-negative number of milliseconds"),
}


def load_csv(source: str | Path | bytes | io.IOBase, name: str | None = None,
             catalog: Catalog | None = None) -> EvalSet:
    """Load an eval set from a path, raw bytes or a file object, in any of the three layouts.

    Raises :class:`InputError` listing every bad row at once.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        label = name or path.name
        if not path.exists():
            raise InputError(f"{label}: no such file")
        return _load_path(path, label, catalog or default_catalog())
    data = source if isinstance(source, bytes) else source.read()
    label = name or getattr(source, "name", "upload.csv")
    # DuckDB reads files fastest; an upload is spooled to disk once.
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as tmp:
        tmp.write(data)
        tmp_path = Path(tmp.name)
    try:
        return _load_path(tmp_path, label, catalog or default_catalog())
    finally:
        os.unlink(tmp_path)


def _load_path(path: Path, label: str, catalog: Catalog) -> EvalSet:
    if path.stat().st_size == 0:
        raise InputError(f"{label}: the file is empty; expected a CSV with a header row")
    delim = sniff_text(path, label)
    header = header_fields(path, delim)
    if detect_format(header) == "long" and all(header) and len(set(header)) == len(header):
        typed = _typed_long(path, label, delim, header, catalog)
        if typed is not None:
            return typed
    # Anything else, and a long file the typed reader cannot take (ragged rows, bad quoting or
    # UTF-8, blank or repeated column names): read as text, which names every problem by row.
    table = read_text_table(path, label, delim)
    columns = [c.strip() for c in table.column_names]
    table = table.rename_columns(columns)
    # DuckDB silently renames a repeated header ('score' -> 'score_1'): check the raw header.
    dupes = sorted({c for c in header if header.count(c) > 1 and c})
    if dupes:
        raise InputError(f"{label}: column names must be unique", [
            Problem(label, None, c, "each column name once", "repeated") for c in dupes])
    kind = detect_format(columns)
    results = sorted(set(columns) & (set(LONG_FIELDS) | {"model"}))
    if kind in ("inputs", None) and results:
        # Model results without both keys would be silently dropped as an inputs-only set.
        missing = [c for c in ("item_id", "model") if c not in columns]
        raise InputError(f"{label}: model results need the long layout's key columns", [
            Problem(label, None, c, "a column naming each row's "
                    + ("item" if c == "item_id" else "model") + " (long layout: one row per "
                    f"item × model), since the file has {', '.join(repr(r) for r in results)}",
                    "no such column") for c in missing])
    if kind is None:
        hint = ""
        seps = [c for c in columns[0] if not (c.isalnum() or c in "_-.() ")] or \
            [c for c in columns[0] if c == " "]
        if len(columns) == 1 and seps:
            seen = max(set(seps), key=seps.count)
            hint = (f" The header has one column: the file looks separated by {seen!r}; save it "
                    "separated by commas, semicolons, tabs or '|'.")
        raise InputError(
            f"{label}: not an eval set. Expected either columns 'item_id' and 'model' (long layout), "
            "per-model columns like 'M' and 'M|model_response' (wide layout), or an 'input' column "
            f"(inputs only); found columns {', '.join(repr(c) for c in columns[:12])}.{hint}"
        )
    if table.num_rows == 0:
        raise InputError(f"{label}: the file has a header but no data rows")
    if kind == "long":
        con = scratch_db()
        try:
            con.register("t", table)
            numbers, problems = _parse_numbers(con, table, label, {f: f for f in NUMERIC_FIELDS
                                                                   if f in columns}, "item_id")
        finally:
            con.close()
        return _from_long(table, label, catalog, numbers, problems)
    if kind == "wide":
        return _from_wide(table, label, catalog)
    return _from_inputs(table, label)


def detect_format(columns: list[str]) -> str | None:
    cols = set(columns)
    if {"item_id", "model"} <= cols:
        return "long"
    if any("|" in c for c in columns):
        return "wide"
    if "input" in cols or "prompt" in cols:
        return "inputs"
    return None


def _file_order(columns: list[str]):
    """Sort key for problems: by row, then by the column's position in the file."""
    position = {c: i for i, c in enumerate(columns)}
    return lambda p: (p.row or 0, position.get(p.column, -1))


def _is_unnamed(column: str) -> bool:
    """DuckDB names a blank header 'column0', 'column00'...: a pandas index, not data."""
    return not column.strip() or (column.startswith("column") and column[6:].isdigit())


def _items_frame(frame: pd.DataFrame) -> pd.DataFrame:
    items = frame.reset_index(drop=True)
    for col in ITEM_COLUMNS[1:]:
        if col in items:
            items[col] = items[col].where(items[col].notna() & (items[col].str.strip() != ""), None)
    return items


def _parse_numbers(con: duckdb.DuckDBPyConnection, table: pa.Table, label: str,
                   fields: dict[str, str], id_column: str | None) -> tuple[dict[str, np.ndarray], list[Problem]]:
    """Cast the numeric columns (column -> range key) in one scan; list every invalid cell.

    Returns column -> float array (NaN where blank) and the problems, row = 1-based data row.
    The columns are stacked into one text column first, so the query has two expressions
    whatever the width: a wide file with 10,000 models is one scan of 20,000 x n cells, not a
    20,000-expression statement (whose planning grows with the square of its width).
    """
    if not fields:
        return {}, []
    n = table.num_rows
    names = list(fields)
    stacked = pa.chunked_array([chunk.cast(pa.large_string()) for c in names
                                for chunk in table.column(c).chunks], type=pa.large_string())
    con.register("numbers_stacked", pa.table({"x": stacked}))
    try:
        # preserve_insertion_order (DuckDB's default) keeps the stacked order without a sort
        res = con.execute("select try_cast(nullif(trim(x), '') as double) as v,"
                          " coalesce(trim(x) <> '', false) as g from numbers_stacked").fetchnumpy()
    finally:
        con.unregister("numbers_stacked")
    raw, raw_given = res["v"], res["g"]
    all_values = np.asarray(np.ma.filled(raw.astype(float), np.nan) if np.ma.isMaskedArray(raw)
                            else raw, dtype=float).reshape(len(names), n)
    all_given = np.asarray(np.ma.filled(raw_given, False) if np.ma.isMaskedArray(raw_given)
                           else raw_given, dtype=bool).reshape(len(names), n)
    values: dict[str, np.ndarray] = {}
    problems: list[Problem] = []
    for i, (column, key) in enumerate(fields.items()):
        v, given = all_values[i], all_given[i]
        lo, hi, expected = _RANGES[key]
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(v) & (v >= lo) & (v <= (np.inf if hi is None else hi))
        bad = np.flatnonzero(given & ~ok)[:MAX_PROBLEMS]
        if len(bad):
            got = table.column(column).take(pa.array(bad)).to_pylist()
            ids = (table.column(id_column).take(pa.array(bad)).to_pylist() if id_column
                   else [None] * len(bad))
            problems += [Problem(label, int(r) + 1, column,
                                 expected + (f" (item_id {ident})" if ident is not None else ""), g)
                         for r, g, ident in zip(bad, got, ids)]
        values[column] = v
    return values, problems


def _typed_long(path: Path, label: str, delim: str, header: list[str],
                catalog: Catalog) -> EvalSet | None:
    """The long layout read once, typed: DuckDB parses the numbers as it reads the file, so a
    clean file is never read as text nor parsed again; values out of range are looked for on
    the typed arrays (vectorised), keys on their dictionary codes (:func:`_from_long`).

    Returns None when a number cell has something to report (not a number, out of range, a
    NaN written in the file) or the reader refuses the file: the text path then reads it and
    names every problem, with the cells quoted as the file has them, as it always has.
    """
    types = {c: "DOUBLE" if c in NUMERIC_FIELDS else "VARCHAR" for c in header}
    table = read_typed_table(path, delim, types)
    if table is None or table.num_rows == 0:  # header only: the text path says so
        return None
    numbers: dict[str, np.ndarray] = {}
    for column in (f for f in NUMERIC_FIELDS if f in types):
        values = table.column(column).to_numpy()  # float64, NaN where blank
        lo, hi, _ = _RANGES[column]
        blank = int(np.count_nonzero(np.isnan(values)))
        if blank != table.column(column).null_count:
            return None  # a 'nan' written in the file
        # the smallest and largest number (fmin/fmax skip NaN): two passes, no mask
        if blank < len(values) and not (np.fmin.reduce(values) >= lo and
                                         np.fmax.reduce(values) <= (np.finfo(float).max if hi is None else hi)):
            return None  # out of range, or infinite
        numbers[column] = values
    return _from_long(table, label, catalog, numbers, [])


def _codes(column: pa.ChunkedArray, sort: bool) -> tuple[np.ndarray, list[str]]:
    """Integer codes and distinct (trimmed) values: first-appearance order, or sorted.

    Arrow's dictionary encoding keeps one dictionary across the column's chunks, so the keys are
    hashed once in C++; only the distinct values are trimmed (a blank key is ""), and everything
    after works on integers.

    >>> codes, names = _codes(pa.chunked_array([["b ", "a", None], ["b", " "]]), sort=False)
    >>> codes.tolist(), names
    ([0, 1, 2, 0, 2], ['b', 'a', ''])
    """
    raw_codes, raw = _dictionary_codes(column.dictionary_encode())
    if len(raw_codes) and raw_codes.min() < 0:  # null cells (code -1) read as "", the last entry
        raw = raw + [""]
    trimmed = pc.utf8_trim_whitespace(pa.array(raw, type=pa.string())).dictionary_encode()
    remap = trimmed.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    codes, names = remap[raw_codes], trimmed.dictionary.to_pylist()
    if sort and names:
        order = np.argsort(np.asarray(names, dtype=object), kind="stable")
        remap = np.empty(len(order), dtype=np.int64)
        remap[order] = np.arange(len(order))
        codes = remap[codes]
        names = [names[i] for i in order]
    return codes, names


def _dictionary_codes(encoded: pa.ChunkedArray) -> tuple[np.ndarray, list]:
    """(codes, dictionary values) of a dictionary-encoded column; null cells get code -1."""
    chunks = [c for c in encoded.chunks if len(c)]
    if not chunks:
        return np.zeros(0, dtype=np.int64), []
    dictionary = chunks[0].dictionary
    if not all(c.dictionary.equals(dictionary) for c in chunks[1:]):
        combined = pc.dictionary_encode(pc.cast(encoded, encoded.type.value_type).combine_chunks())
        chunks, dictionary = [combined], combined.dictionary
    codes = np.concatenate([pc.fill_null(c.indices, -1).to_numpy(zero_copy_only=False)
                            for c in chunks]).astype(np.int64)
    return codes, dictionary.to_pylist()


def _cell_rows(key: np.ndarray, n_cells: int) -> tuple[bool, np.ndarray | None]:
    """How the rows fill the [items x models] matrices, from each row's cell number ``key``
    (item code x n_models + model code; no cell twice).

    Returns (complete, order): complete when every cell has its row; then ``order`` is the row
    of each cell in matrix order (a gather, no fill), or None when the rows already are in that
    order (a reshape), as when a file lists each item's models in sorted order.

    >>> _cell_rows(np.array([0, 1, 2, 3]), 4), _cell_rows(np.array([1, 0]), 2)
    ((True, None), (True, array([1, 0])))
    >>> _cell_rows(np.array([0, 3]), 4)
    (False, None)
    """
    if len(key) != n_cells:
        return False, None
    if (key[1:] > key[:-1]).all():
        return True, None
    order = np.empty_like(key)
    order[key] = np.arange(len(key))
    return True, order


def _answer_ids(codes: np.ndarray, values: list, ids: dict) -> np.ndarray:
    """Per row, an integer standing for the normalized answer (:mod:`core.evaluation.answers`);
    -1 where there is none. Only distinct values are normalized; rows compare integers."""
    norm = normalize_answers(np.asarray(values, dtype=object))
    table = np.array([-1 if v is None else ids.setdefault(v, len(ids)) for v in norm] + [-1],
                     dtype=np.int64)
    return table[codes]


def _blank(codes: np.ndarray, names: list[str]) -> np.ndarray:
    """Rows whose (trimmed) key is blank, from the codes."""
    return codes == names.index("") if "" in names else np.zeros(len(codes), dtype=bool)


def _from_long(table: pa.Table, label: str, catalog: Catalog, numbers: dict[str, np.ndarray],
               problems: list[Problem]) -> EvalSet:
    """Long layout, vectorized end to end: Arrow encodes the keys, each field is scattered into
    its [items, models] matrix in one assignment. ``numbers`` are the numeric columns already
    read (column -> float array, NaN where blank) and ``problems`` those found reading them;
    table position i is data row i + 1."""
    cols = table.column_names
    problems = list(problems)

    def row_of(position) -> int:
        return int(position) + 1

    item_codes, item_ids = _codes(table.column("item_id"), sort=False)
    model_codes, model_names = _codes(table.column("model"), sort=True)
    blank_item, blank_model = _blank(item_codes, item_ids), _blank(model_codes, model_names)
    for r in np.flatnonzero(blank_item | blank_model)[:MAX_PROBLEMS]:
        problems.append(Problem(label, row_of(r), "item_id" if blank_item[r] else "model",
                                "a non-empty value", ""))
    n, m = len(item_ids), len(model_names)
    key = item_codes * max(m, 1) + model_codes
    in_order = bool((key[1:] > key[:-1]).all())  # rows in item x model order: no cell twice
    if len(key) and not in_order and np.bincount(key, minlength=n * m).max() > 1:
        _, first_of_key, inverse = np.unique(key, return_index=True, return_inverse=True)
        repeated = np.flatnonzero(first_of_key[inverse] != np.arange(len(key)))
        for r in repeated[:MAX_PROBLEMS]:
            first = first_of_key[inverse[r]]
            problems.append(Problem(label, row_of(r), "item_id",
                                    f"one row per (item_id, model); item {item_ids[item_codes[r]]}"
                                    f" × model {model_names[model_codes[r]]} also on row "
                                    f"{row_of(first)}"))
    if problems:
        problems.sort(key=_file_order(cols))
        raise InputError(f"{label}: bad rows; nothing was stored", problems[:MAX_PROBLEMS])

    # each item's first row: written last to first, so the earliest row is the one that stays
    first_rows = np.empty(n, dtype=np.int64)
    first_rows[item_codes[::-1]] = np.arange(len(item_codes) - 1, -1, -1)
    meta_cols = [c for c in cols if c not in RESERVED and not _is_unnamed(c)]
    item_cols = [c for c in ITEM_COLUMNS if c in cols and c != "item_id"] + meta_cols
    items = table.select(item_cols).take(pa.array(first_rows)).to_pandas() if item_cols else \
        pd.DataFrame(index=range(n))
    items.insert(0, "item_id", np.asarray(item_ids, dtype=object))
    items = _items_frame(items)

    complete, order = _cell_rows(key, n * m)

    def matrix(values: np.ndarray) -> np.ndarray:  # a numeric column: NaN where no row
        if not complete:
            out = np.full((n, m), np.nan)
            out[item_codes, model_codes] = values
            return out
        if order is not None:
            return values[order].reshape(n, m)
        # a reshape; a read-only (zero-copy) column of the reader is copied once
        return (values if values.flags.writeable else np.array(values)).reshape(n, m)

    def text_matrix(column: str) -> np.ndarray:  # a text column: None where no row or blank
        codes, values = encoded(column)  # code -1 (blank) is the None appended last
        if not complete:
            cell_codes = np.full(n * m, -1, dtype=np.int64)
            cell_codes[key] = codes
        else:
            cell_codes = codes if order is None else codes[order]
        # the codes are placed, then each cell looks its object up once
        return np.asarray(values + [None], dtype=object)[cell_codes].reshape(n, m)

    dictionaries: dict = {}

    def encoded(column: str) -> tuple[np.ndarray, list]:  # each text column encoded once
        if column not in dictionaries:
            dictionaries[column] = _dictionary_codes(table.column(column).dictionary_encode())
        return dictionaries[column]

    score_rows = numbers["score"] if "score" in numbers else np.full(len(key), np.nan)
    unscored = np.flatnonzero(np.isnan(score_rows)) if "label" in cols and "prediction" in cols \
        else np.zeros(0, dtype=np.int64)
    if len(unscored):
        # Correctness from an exact (normalized) match where no score was given, compared as
        # integer codes of the distinct normalized answers, on the unscored rows only.
        ids: dict = {}
        pred_codes, pred_values = encoded("prediction")
        pred = _answer_ids(pred_codes[unscored], pred_values, ids)
        gold = _answer_ids(*_dictionary_codes(
            table.column("label").take(pa.array(unscored)).dictionary_encode()), ids)
        decided = (pred >= 0) & (gold >= 0)
        if not score_rows.flags.writeable:
            score_rows = score_rows.copy()
        score_rows[unscored[decided]] = (pred[decided] == gold[decided]).astype(float)
    arrays = {"score": matrix(score_rows)}
    for f in NUMERIC_FIELDS[1:]:
        arrays[f] = matrix(numbers[f]) if f in numbers else np.full((n, m), np.nan)
    for f in TEXT_FIELDS:
        if f in cols:
            arrays[f] = text_matrix(f)
        else:
            arrays[f] = np.empty((n, m), dtype=object)  # every cell None
    models = tuple(str(x) for x in model_names)
    cost, cost_source = _resolve_cost(models, arrays, catalog)
    return EvalSet(
        name=label, items=items, models=models, score=arrays["score"], cost=cost,
        latency_ms=arrays["latency_ms"], confidence=arrays["confidence"],
        input_tokens=arrays["input_tokens"], output_tokens=arrays["output_tokens"],
        cached_input_tokens=arrays["cached_input_tokens"], prediction=arrays["prediction"],
        output=arrays["output"], format="long", cost_source=cost_source,
    )


def _resolve_cost(models: tuple[str, ...], arrays: dict[str, np.ndarray],
                  catalog: Catalog) -> tuple[np.ndarray, dict]:
    """Reported cost where given; else tokens × catalog price; else unknown (NaN), said plainly."""
    cost = arrays["cost_usd"].copy()
    source: dict[str, str] = {}
    for j, model in enumerate(models):
        reported = ~np.isnan(cost[:, j])
        has_tokens = ~np.isnan(arrays["input_tokens"][:, j]) | ~np.isnan(arrays["output_tokens"][:, j])
        need = ~reported & has_tokens
        if need.any():
            priced = catalog.cost(
                model,
                np.nan_to_num(arrays["input_tokens"][need, j]),
                np.nan_to_num(arrays["output_tokens"][need, j]),
                np.nan_to_num(arrays["cached_input_tokens"][need, j]),
            )
            cost[need, j] = priced
        if reported.all():
            source[model] = "reported"
        elif need.any() and not np.isnan(cost[need, j]).all():
            source[model] = "catalog" if not reported.any() else "reported+catalog"
        elif reported.any():
            source[model] = "reported"
        else:
            source[model] = "unknown"
    return cost, source


def _literal_text(values: pd.Series) -> pd.Series:
    """RouterBench stores text as a Python-literal list holding one string: unwrap it."""
    def unwrap(v):
        if not isinstance(v, str) or not v.startswith("["):
            return v
        try:
            parsed = ast.literal_eval(v)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return v
        if isinstance(parsed, (list, tuple)):
            return "\n".join(str(x) for x in parsed)
        return str(parsed)
    # Fast path: most cells are ['text'] with no escapes, which a regex unwraps exactly;
    # only the rest (escapes, several strings) pays for ast.literal_eval.
    text = values.astype(object)
    simple = text.where(text.notna(), "").astype(str).str.extract(_SIMPLE_LITERAL)
    plain = simple[0].fillna(simple[1])
    out = text.where(plain.isna(), plain)
    rest = plain.isna() & text.notna()
    if rest.any():
        out[rest] = text[rest].map(unwrap)
    return out


_SIMPLE_LITERAL = r"^\[(?:'([^'\\]*)'|\"([^\"\\]*)\")\]$"


def _from_wide(table: pa.Table, label: str, catalog: Catalog) -> EvalSet:
    """Wide layout, linear in the number of columns: each column is looked up in a set, the
    numbers of every model are cast in one stacked scan and the texts unwrapped in one pass."""
    columns = list(table.column_names)
    present = set(columns)
    suffixed = [c for c in columns if "|" in c]
    models = sorted({c.split("|", 1)[0] for c in suffixed})
    position = {m: j for j, m in enumerate(models)}
    aliases = {"total_cost": "cost_usd", "model_response": "output", "cost": "cost_usd",
               "response": "output", "latency": "latency_ms"}
    id_col = next((c for c in ("item_id", "sample_id", "id") if c in present), None)
    numeric_cols: dict[str, str] = {}  # column -> canonical numeric field
    targets: dict[str, tuple[str, int]] = {}  # column -> (canonical field, model index)
    for model in models:
        if model in present:
            numeric_cols[model] = "score"
            targets[model] = ("score", position[model])
    for col in suffixed:
        model, f = col.split("|", 1)
        canonical = aliases.get(f, f)
        if canonical in NUMERIC_FIELDS:
            numeric_cols[col] = canonical
            targets[col] = (canonical, position[model])
        elif canonical in TEXT_FIELDS:
            targets[col] = (canonical, position[model])
    con = scratch_db()
    try:
        parsed, problems = _parse_numbers(con, table, label, numeric_cols, id_col)  # one scan
    finally:
        con.close()
    if problems:
        problems.sort(key=_file_order(columns))
        raise InputError(f"{label}: bad values; nothing was stored", problems)
    n = table.num_rows
    arrays: dict[str, np.ndarray] = {f: np.full((n, len(models)), np.nan) for f in NUMERIC_FIELDS}
    arrays.update({f: np.full((n, len(models)), None, dtype=object) for f in TEXT_FIELDS})
    for col, values in parsed.items():
        canonical, j = targets[col]
        arrays[canonical][:, j] = values
    text_cols = [c for c in suffixed if targets.get(c, ("",))[0] in TEXT_FIELDS]
    if text_cols:
        # every text cell of every model in one Series: one unwrapping pass, then scattered
        stacked = pa.chunked_array([chunk.cast(pa.large_string()) for c in text_cols
                                    for chunk in table.column(c).chunks], type=pa.large_string())
        cells = pd.Series(stacked.to_numpy(zero_copy_only=False), dtype=object)
        text = _literal_text(cells).astype(object).where(cells.notna(), None)
        text = text.to_numpy(dtype=object).reshape(len(text_cols), n)
        for k, col in enumerate(text_cols):
            canonical, j = targets[col]
            arrays[canonical][:, j] = text[k]

    model_cols = set(models) | set(suffixed)
    rename = {"sample_id": "item_id", "prompt": "input", "eval_name": "task"}
    keep = [c for c in columns if c not in model_cols and not _is_unnamed(c)]
    items = table.select(keep).to_pandas() if keep else pd.DataFrame(index=range(n))
    items = items.rename(columns={k: v for k, v in rename.items() if k in keep and v not in keep})
    if "item_id" not in items:
        items.insert(0, "item_id", [str(i) for i in range(1, n + 1)])
    if "input" in items:
        items["input"] = _literal_text(items["input"])
    items = _items_frame(items[[c for c in ITEM_COLUMNS if c in items] +
                               [c for c in items.columns if c not in ITEM_COLUMNS]])
    notes = []
    dup = items["item_id"].duplicated(keep="first")
    if dup.any():
        # Published wide files repeat a prompt id on separate rows (RouterBench splits some
        # records); each row is its own item, so the repeats get a suffix and a note.
        rank = items.groupby("item_id").cumcount().to_numpy()
        ids = items["item_id"].to_numpy(dtype=object)
        items["item_id"] = np.where(rank > 0, ids + "#" + (rank + 1).astype(str), ids)
        notes.append(f"{int(dup.sum())} repeated item id(s) kept as separate items with a '#n' "
                     f"suffix (first: {ids[np.flatnonzero(dup.to_numpy())[0]]})")
    cost, cost_source = _resolve_cost(tuple(models), arrays, catalog)
    return EvalSet(
        name=label, items=items, models=tuple(models), score=arrays["score"], cost=cost,
        latency_ms=arrays["latency_ms"], confidence=arrays["confidence"],
        input_tokens=arrays["input_tokens"], output_tokens=arrays["output_tokens"],
        cached_input_tokens=arrays["cached_input_tokens"], prediction=arrays["prediction"],
        output=arrays["output"], format="wide", cost_source=cost_source, notes=tuple(notes),
    )


def _from_inputs(table: pa.Table, label: str) -> EvalSet:
    frame = table.to_pandas()
    if "input" not in frame and "prompt" in frame:
        frame = frame.rename(columns={"prompt": "input"})
        frame["input"] = _literal_text(frame["input"])
    blank = frame["input"].isna() | (frame["input"].str.strip() == "")
    problems = [Problem(label, int(r) + 1, "input", "the text to send to the model", "")
                for r in np.flatnonzero(blank.to_numpy())[:MAX_PROBLEMS]]
    if "item_id" not in frame:
        frame.insert(0, "item_id", [str(i) for i in range(1, len(frame) + 1)])
    dup = frame["item_id"].duplicated(keep="first")
    problems += [Problem(label, int(r) + 1, "item_id", "a unique id", str(frame["item_id"].iloc[r]))
                 for r in np.flatnonzero(dup.to_numpy())[:MAX_PROBLEMS]]
    if problems:
        raise InputError(f"{label}: bad rows; nothing was stored", sorted(problems, key=lambda p: p.row))
    keep = [c for c in ITEM_COLUMNS if c in frame] + [
        c for c in frame.columns if c not in ITEM_COLUMNS and not _is_unnamed(c)]
    items = _items_frame(frame[keep])
    n = len(items)
    empty_f = np.full((n, 0), np.nan)
    empty_o = np.full((n, 0), None, dtype=object)
    return EvalSet(
        name=label, items=items, models=(), score=empty_f, cost=empty_f.copy(),
        latency_ms=empty_f.copy(), confidence=empty_f.copy(), input_tokens=empty_f.copy(),
        output_tokens=empty_f.copy(), cached_input_tokens=empty_f.copy(), prediction=empty_o,
        output=empty_o.copy(), format="inputs",
    )

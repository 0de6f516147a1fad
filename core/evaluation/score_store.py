"""Scores kept in the workspace, so re-scoring with the same scorer and version costs nothing.

A scorer is identified by its kind, parameters and version (:func:`scorer_id`); an answer by its
content (:func:`answer_keys`: the item's input, reference and label, the model's prediction and
output, and for pairwise judging the answer it is compared with). A score is stored under
(scorer id, answer key), so the same answers scored again, in this eval set or another upload of
it, from the page or the command line, are looked up instead of recomputed or re-judged.
``evalset_scorers`` records which scorer each task of a stored eval set uses.

>>> sid = register_scorer(ws, "exact", "exact", "exact", "1", {})
>>> save_scores(ws, sid, pd.DataFrame({"answer_key": ["k1"], "score": [1.0], "parsed": [True]}))
>>> lookup_scores(ws, sid, np.array(["k1", "k2"]))["score"].tolist()
[1.0, nan]
"""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from core.evaluation.evalset import EvalSet
from core.workspace import Workspace

MIGRATIONS = [
    # v1, the DuckLake baseline (no PRIMARY KEY: one row per key is kept by the writes below,
    # each under the 'scores' lock row)
    """
    create table scorers (
        scorer_id varchar not null,      -- sha256 of kind, version and parameters; one row each
        kind varchar not null,
        spec varchar not null,           -- the canonical spec, e.g. numeric:0.01
        label varchar not null,          -- a short name for tables
        version varchar not null,
        params json not null,            -- what rebuilds the scorer (never a key)
        info json,                       -- e.g. a calibrated threshold's held-out agreement
        created_at timestamp not null
    );
    create table scores (
        scorer_id varchar not null,
        answer_key varchar not null,     -- sha256 of what the scorer reads of one answer
        score double,                    -- 0..1; NULL: not scored (a judge reply not readable)
        parsed boolean not null,         -- false: the output (or the judge's reply) did not parse
        detail varchar,                  -- what was read: a choice, a number, a judge's reason
        verdict varchar,                 -- judges: pass | fail, or A | B | tie (pairwise)
        verdict_swapped varchar,         -- pairwise judges: the verdict with the answers swapped
        verdict_recheck varchar,         -- a second judging of the same answer (self-agreement)
        created_at timestamp not null    -- one row per (scorer_id, answer_key)
    );
    create table evalset_scorers (
        evalset_id integer not null,
        task varchar not null,           -- one of the eval set's tasks, or '*' for all of them
        scorer_id varchar not null,
        updated_at timestamp not null    -- one row per (evalset_id, task)
    );
    insert into store_locks values ('scores', 0);
    """,
]

SCORE_COLUMNS = ["answer_key", "score", "parsed", "detail", "verdict", "verdict_swapped",
                 "verdict_recheck"]
ALL_TASKS = "*"


def ensure_scores(ws: Workspace) -> None:
    ws.ensure("scores", MIGRATIONS)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def scorer_id(kind: str, version: str, params: dict) -> str:
    """The identity of a scorer: same kind, version and parameters -> same id.

    >>> scorer_id("numeric", "1", {"tolerance": 0.01}) == scorer_id("numeric", "1", {"tolerance": 0.01})
    True
    """
    payload = json.dumps({"kind": kind, "version": version, "params": params}, sort_keys=True,
                         default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _digests(columns: list[np.ndarray], width: int) -> np.ndarray:
    """A hex digest of each row of aligned columns, hashed once per distinct row."""
    frame = pd.DataFrame({f"c{k}": pd.Series(col, dtype=object).map(
        lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
        for k, col in enumerate(columns)})
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(frame.fillna("\x00none")))
    table = np.array([hashlib.sha256(json.dumps(list(u)).encode()).hexdigest()[:width]
                      for u in uniques], dtype=f"<U{width}")
    return table[codes]


def answer_keys(evalset: EvalSet, against: str | None = None) -> np.ndarray:
    """One content key per (item, model) ``[n, m]``: a digest of the item (input, reference,
    label; ``against``: the answer of the model each answer is compared with, for pairwise
    judging) joined to a digest of the answer (prediction, output). Each distinct item and each
    distinct answer is hashed once.

    >>> keys = answer_keys(es)
    >>> keys.shape, len(keys[0, 0]), keys[0, 0] == answer_keys(es)[0, 0]
    ((4, 3), 40, True)
    """
    n, m = evalset.n_items, evalset.n_models
    items = evalset.items
    cols = [items[c].to_numpy(dtype=object) if c in items else np.full(n, None, dtype=object)
            for c in ("input", "reference", "label")]
    cols.append(evalset.output[:, evalset.model_index(against)] if against is not None
                else np.full(n, None, dtype=object))
    item_part = _digests(cols, 20)
    answer_part = _digests([evalset.prediction.reshape(-1), evalset.output.reshape(-1)], 20)
    keys = np.char.add(np.repeat(item_part, m), answer_part).reshape(n, m)
    return keys.astype(object)


def register_scorer(ws: Workspace, kind: str, spec: str, label: str, version: str, params: dict,
                    info: dict | None = None) -> str:
    """Record a scorer (once) and return its id."""
    ensure_scores(ws)
    sid = scorer_id(kind, version, params)
    info_json = json.dumps(info) if info is not None else None

    def body(cur) -> None:
        ws.bump(cur, "scores")  # two processes registering one scorer: one row
        if cur.execute("select count(*) from scorers where scorer_id = ?", [sid]).fetchone()[0]:
            cur.execute("update scorers set info = ? where scorer_id = ?", [info_json, sid])
        else:
            cur.execute("insert into scorers (scorer_id, kind, spec, label, version, params, info,"
                        " created_at) values (?, ?, ?, ?, ?, ?, ?, ?)",
                        [sid, kind, spec, label, version, json.dumps(params, sort_keys=True),
                         info_json, _now()])

    ws.write(body)
    return sid


def get_scorer(ws: Workspace, sid: str) -> dict | None:
    ensure_scores(ws)
    frame = ws.cursor().execute("select * from scorers where scorer_id = ?", [sid]).df()
    if frame.empty:
        return None
    row = frame.iloc[0].to_dict()
    row["params"] = json.loads(row["params"])
    row["info"] = json.loads(row["info"]) if isinstance(row["info"], str) else None
    return row


def lookup_scores(ws: Workspace, sid: str, keys: np.ndarray) -> pd.DataFrame:
    """Stored scores for ``keys`` (flat, order kept; NaN/None where nothing is stored), one join."""
    ensure_scores(ws)
    wanted = pd.DataFrame({"answer_key": np.asarray(keys, dtype=object).reshape(-1),
                           "pos": np.arange(np.asarray(keys).size)})
    cur = ws.cursor()
    cur.register("wanted_keys", wanted)
    try:
        found = cur.execute(
            "select w.pos, s.* exclude (scorer_id, answer_key, created_at) from wanted_keys w"
            " left join scores s on s.answer_key = w.answer_key and s.scorer_id = ?"
            " order by w.pos", [sid]).df()
    finally:
        cur.unregister("wanted_keys")
    found.insert(0, "answer_key", wanted["answer_key"].to_numpy())
    found["stored"] = found["parsed"].notna()
    found["score"] = found["score"].astype(float)
    return found.drop(columns="pos")


def save_scores(ws: Workspace, sid: str, frame: pd.DataFrame) -> None:
    """Store (or replace) scores: a frame with ``answer_key``, ``score``, ``parsed`` and any of
    ``detail, verdict, verdict_swapped, verdict_recheck``; one bulk write."""
    ensure_scores(ws)
    if frame.empty:
        return
    rows = frame.reindex(columns=SCORE_COLUMNS).drop_duplicates("answer_key", keep="last")
    rows = rows.astype({"score": float, "parsed": bool})
    for col in ("detail", "verdict", "verdict_swapped", "verdict_recheck"):
        rows[col] = rows[col].astype(object).where(rows[col].notna(), None)
    now = _now()

    def body(cur) -> None:
        ws.bump(cur, "scores")  # replace, not add: one row per (scorer, answer) across processes
        cur.register("new_scores", rows)
        try:
            cur.execute("delete from scores where scorer_id = ? and answer_key in"
                        " (select answer_key from new_scores)", [sid])
            cur.execute(f"insert into scores (scorer_id, {', '.join(SCORE_COLUMNS)}, created_at)"
                        f" select ?, {', '.join(SCORE_COLUMNS)}, ? from new_scores", [sid, now])
        finally:
            cur.unregister("new_scores")

    ws.write(body)


# -- which scorer each task of a stored eval set uses -------------------------------------------
def set_plan(ws: Workspace, evalset_id: int, task: str, sid: str | None) -> None:
    """Score ``task`` ('*' = every task) of a stored eval set with scorer ``sid`` (None: back to
    the scores in the file)."""
    ensure_scores(ws)
    now = _now()

    def body(cur) -> None:
        ws.bump(cur, "scores")
        cur.execute("delete from evalset_scorers where evalset_id = ? and task = ?", [evalset_id, task])
        if sid is not None:
            cur.execute("insert into evalset_scorers values (?, ?, ?, ?)", [evalset_id, task, sid, now])

    ws.write(body)


def get_plan(ws: Workspace, evalset_id: int) -> pd.DataFrame:
    """task, scorer_id, kind, spec, label, version, params (dict), info (dict or None)."""
    ensure_scores(ws)
    frame = ws.cursor().execute(
        "select p.task, p.scorer_id, s.kind, s.spec, s.label, s.version, s.params, s.info,"
        " p.updated_at from evalset_scorers p join scorers s using (scorer_id)"
        " where p.evalset_id = ? order by p.task = '*' desc, p.task", [evalset_id]).df()
    frame["params"] = [json.loads(p) for p in frame["params"]]
    frame["info"] = [json.loads(i) if isinstance(i, str) else None for i in frame["info"]]
    return frame


def plan_version(ws: Workspace, evalset_id: int) -> str:
    """Changes whenever the eval set's scorer plan changes, or its scorers store new scores (a
    judge's verdicts arriving): a cache key for scored views."""
    ensure_scores(ws)
    row = ws.cursor().execute(
        "select count(*), max(updated_at),"
        " (select count(*) from scores where scorer_id in"
        "   (select scorer_id from evalset_scorers where evalset_id = ?))"
        " from evalset_scorers where evalset_id = ?", [evalset_id, evalset_id]).fetchall()[0]
    return f"{row[0]}:{row[1]}:{row[2]}"


def delete_plan(ws: Workspace, evalset_id: int, cur=None) -> None:
    """Forget the scorers chosen for a stored eval set (``cur``: inside the caller's write)."""
    ensure_scores(ws)
    if cur is not None:
        cur.execute("delete from evalset_scorers where evalset_id = ?", [evalset_id])
    else:
        ws.write(lambda c: c.execute("delete from evalset_scorers where evalset_id = ?", [evalset_id]))

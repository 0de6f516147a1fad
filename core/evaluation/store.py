"""Eval sets kept in the workspace, so a refresh or a restart loses nothing.

>>> set_id = save_evalset(ws, es)
>>> load_evalset(ws, set_id).models, list_evalsets(ws)["n_items"].tolist()
(('big', 'mid', 'small'), [4])

Items and results are written in bulk inside one transaction: a failure stores nothing.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import ITEM_COLUMNS, EvalSet, from_long_frame
from core.evaluation.versions import items_digest
from core.workspace import Workspace

MOVE_REFERENCE = """
    update evalset_items set reference = m.value from evalset_item_meta m
        where m.evalset_id = evalset_items.evalset_id and m.idx = evalset_items.idx
          and m.key = 'reference';
    delete from evalset_item_meta where key = 'reference';
"""

BACKFILL_PARENTS = """
    update evalsets set parent_id = p.parent from (
        select id, lag(id) over (partition by name order by id) as parent from evalsets) p
    where p.id = evalsets.id and p.parent is not null;
"""

MIGRATIONS = [
    # v1, the DuckLake baseline: ids come from the 'evalsets' lock row (Workspace.next_id)
    """
    create table evalsets (
        id integer not null,
        name varchar not null,
        format varchar not null,
        n_items integer not null,
        n_models integer not null,
        synthetic boolean not null default false,
        cost_source json,
        notes json,
        created_at timestamp not null default current_timestamp
    );
    create table evalset_items (
        evalset_id integer not null,
        idx integer not null,
        item_id varchar not null,
        input varchar,
        task varchar,
        label varchar                    -- one row per (evalset_id, idx)
    );
    create table evalset_item_meta (
        evalset_id integer not null, idx integer not null, key varchar not null, value varchar
    );
    create table evalset_results (
        evalset_id integer not null,
        idx integer not null,
        model varchar not null,
        score double, cost_usd double, latency_ms double, confidence double,
        input_tokens double, output_tokens double, cached_input_tokens double,
        prediction varchar, output varchar
    );
    insert into store_locks values ('evalsets', 0);
    """,
    # v2: the expected answer of open-ended items (scorers compare outputs with it). A file
    # stored before this release kept a 'reference' column as metadata: it moves here.
    "alter table evalset_items add column reference varchar;" + MOVE_REFERENCE,
    # v3: the uploaded file's SHA-256, so two uploads under one name can be told apart.
    "alter table evalsets add column digest varchar;",
    # v4: versions: the parent (the newest earlier set of the same name) and the items' hash
    # (core.evaluation.versions); sets stored before get their parent, their hash stays unknown.
    "alter table evalsets add column parent_id integer;"
    " alter table evalsets add column items_digest varchar;" + BACKFILL_PARENTS,
]

RESULT_COLUMNS = ["idx", "model", "score", "cost_usd", "latency_ms", "confidence", "input_tokens",
                  "output_tokens", "cached_input_tokens", "prediction", "output"]


def _ready(ws: Workspace) -> None:
    # a workspace of the last release kept 'reference' as metadata: it moves when copied over
    ws.ensure("evalsets", MIGRATIONS, legacy_fixups=[MOVE_REFERENCE, BACKFILL_PARENTS])


def save_evalset(ws: Workspace, evalset: EvalSet, name: str | None = None,
                 digest: str | None = None) -> int:
    """Store an eval set (items, metadata, every model's results) as a new version; returns its
    id. ``digest`` is the SHA-256 of the file it came from, when known; the parent is the newest
    set already stored under the same name (:mod:`core.evaluation.versions`)."""
    _ready(ws)
    name = name or evalset.name
    content = items_digest(evalset)
    items = evalset.items.reset_index(drop=True)
    base = pd.DataFrame({"idx": np.arange(len(items), dtype=np.int32)})
    for col in ITEM_COLUMNS:
        base[col] = items[col].astype(object).where(items[col].notna(), None) if col in items else None
    meta_cols = [c for c in items.columns if c not in ITEM_COLUMNS]
    meta = (items[meta_cols].astype("string").assign(idx=base["idx"])
            .melt(id_vars="idx", var_name="key", value_name="value")
            if meta_cols else pd.DataFrame({"idx": [], "key": [], "value": []}))
    results = evalset.to_long_frame()
    if len(results):
        # Rows with nothing recorded for a model (e.g. a split RouterBench record) are not stored.
        numeric = results[["score", "cost_usd", "latency_ms", "confidence", "input_tokens",
                           "output_tokens", "cached_input_tokens"]].to_numpy(dtype=float)
        keep = ~np.isnan(numeric).all(axis=1) | results["output"].notna().to_numpy() | \
            results["prediction"].notna().to_numpy()
        results = results[keep]
        for col in ("prediction", "output"):
            results[col] = results[col].astype(object).where(results[col].notna(), None)
    results = results[RESULT_COLUMNS] if len(results) else pd.DataFrame(columns=RESULT_COLUMNS)

    def body(cur) -> int:
        set_id = ws.next_id(cur, "evalsets", "evalsets")  # the lock row: parents never fork
        parent = cur.execute("select max(id) from evalsets where name = ?", [name]).fetchone()[0]
        cur.execute(
            "insert into evalsets (id, name, format, n_items, n_models, synthetic, cost_source, notes,"
            " digest, parent_id, items_digest) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [set_id, name, evalset.format, evalset.n_items, evalset.n_models,
             evalset.synthetic, json.dumps(evalset.cost_source), json.dumps(list(evalset.notes)),
             digest, parent, content])
        for table, view, frame, cols in (
                ("evalset_items", "new_items", base, "idx, item_id, input, task, label, reference"),
                ("evalset_item_meta", "new_meta", meta, "idx, key, value"),
                ("evalset_results", "new_results", results, ", ".join(RESULT_COLUMNS))):
            cur.register(view, frame)
            cur.execute(f"insert into {table} select ?, {cols} from {view}", [set_id])
            cur.unregister(view)
        return set_id

    return int(ws.write(body))


def list_evalsets(ws: Workspace) -> pd.DataFrame:
    """Stored eval sets, newest first: id, name, format, n_items, n_models, synthetic,
    created_at (the upload time), digest (the file's SHA-256, when known), parent_id (the
    version before, same name), items_digest (the items' hash), version (1 for the first upload
    of a name, 2 for the next...) and versions (how many uploads share the name).

    >>> a, b = save_evalset(ws, es, name="x.csv", digest="ab"), save_evalset(ws, es, name="x.csv")
    >>> list_evalsets(ws)[["id", "version", "versions", "digest", "parent_id"]].values.tolist()
    [[2, 2, 2, nan, 1], [1, 1, 2, 'ab', <NA>]]
    """
    _ready(ws)
    return ws.cursor().execute(
        "select id, name, format, n_items, n_models, synthetic, created_at, digest, parent_id,"
        " items_digest,"
        " row_number() over (partition by name order by id) as version,"
        " count(*) over (partition by name) as versions from evalsets order by id desc"
    ).df()


def load_evalset(ws: Workspace, evalset_id: int) -> EvalSet:
    _ready(ws)
    cur = ws.cursor()
    head = cur.execute(
        "select name, format, synthetic, cost_source, notes from evalsets where id = ?", [evalset_id]
    ).fetchone()
    if head is None:
        raise InputError(f"No eval set with id {evalset_id} in the workspace")
    name, fmt, synthetic, cost_source, notes = head
    items = cur.execute(
        "select item_id, input, task, label, reference from evalset_items where evalset_id = ?"
        " order by idx",
        [evalset_id]).df()
    items = items[[c for c in items.columns if items[c].notna().any() or c == "item_id"]]
    keys = [k for (k,) in cur.execute(
        "select distinct key from evalset_item_meta where evalset_id = ? order by key",
        [evalset_id]).fetchall()]
    meta = None
    if keys:
        in_list = ", ".join("'" + k.replace("'", "''") + "'" for k in keys)
        meta = cur.execute(
            f"pivot (select idx, key, value from evalset_item_meta where evalset_id = ?)"
            f" on key in ({in_list}) using first(value) order by idx", [evalset_id]).df()
    if meta is not None:
        meta = meta.set_index("idx").reindex(range(len(items)))
        for col in meta.columns:
            items[col] = meta[col].to_numpy()
    results = cur.execute(
        f"select {', '.join(RESULT_COLUMNS)} from evalset_results where evalset_id = ?", [evalset_id]
    ).df()
    return from_long_frame(results, items, name, format=fmt, synthetic=bool(synthetic),
                           cost_source=json.loads(cost_source or "{}"),
                           notes=tuple(json.loads(notes or "[]")))


def delete_evalset(ws: Workspace, evalset_id: int) -> None:
    from core.evaluation.score_store import delete_plan, ensure_scores

    _ready(ws)
    ensure_scores(ws)  # before the write: a migration is a write of its own

    def body(cur):
        delete_plan(ws, evalset_id, cur=cur)  # the scorers chosen for it go with it
        for table in ("evalset_results", "evalset_item_meta", "evalset_items"):
            cur.execute(f"delete from {table} where evalset_id = ?", [evalset_id])
        cur.execute("delete from evalsets where id = ?", [evalset_id])

    ws.write(body)


"""Committing an import: all or nothing, idempotent, and safe with concurrent importers.

The workspace has no unique constraint: duplicates are refused by an anti-join on ``call_id``.
An anti-join alone is not enough under concurrency: two imports of one file, run at once, each
see a ledger without the other's rows, both insert, and DuckLake commits both (insert + insert
is not a conflict: every row twice, measured). So every import's write first bumps the
``ledger`` lock row: two such writes conflict at commit, the loser is rolled back and re-run
(:meth:`Workspace.write`), and its anti-join then sees the winner's rows and adds nothing.
Writers of single calls (:func:`core.spend.ledger.insert_staged`) bump the same row.

Small imports run the anti-join and the insert inside that write. Large ones
(> :data:`SHORT_LOCK_ROWS` new rows) keep the write short, so other writers of an embedded
workspace wait well under a second instead of for the whole insert:

1. outside any lock: note snapshot S0, compute the new rows, write them to one Parquet file in
   the ledger's data directory, and their daily sums to a temp table;
2. in the write: bump the lock row; check that no ledger row inserted after S0 carries one of
   the new ids (only those few rows are read); register the file
   (``ducklake_add_data_files``); add the sums to the rollup; record the import.

On a clash (a concurrent import of overlapping rows won) the file is deleted and step 1 redone.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from core.spend.ledger import ALL_COLUMNS, insert_staged
from core.spend.rollup import aggregate_sql
from core.workspace import Workspace

SHORT_LOCK_ROWS = 50_000
MAX_CLASHES = 20


class _Clash(Exception):
    """Rows of this import were committed by another writer after the new rows were computed."""


def commit_import(ws: Workspace, cur, relation: str, *, file_name: str, format: str, rows_read: int,
                  then: Callable[[object], None] | None = None,
                  short_lock_rows: int | None = None) -> int:
    """Add the rows of ``relation`` (ALL_COLUMNS; temp objects on ``cur``) whose call_id is new;
    ``then(cur)`` runs in the same write (e.g. superseding estimates). Returns rows added."""
    import_id = str(uuid.uuid4())

    def record(c, added: int) -> None:
        if then is not None:
            then(c)
        c.execute("insert into ledger_imports values (?, ?, ?, ?, ?, current_timestamp)",
                  [import_id, file_name, format, rows_read, added])

    cols = ", ".join(ALL_COLUMNS)
    s0 = ws.snapshot(cur)
    cur.execute(f"""create or replace temp table _import_new as
        select {_typed(ws, cur)} from (
            select {cols} from {relation} qualify row_number() over (partition by call_id) = 1) r
        where not exists (select 1 from ledger l where l.call_id = r.call_id)""")
    added = cur.execute("select count(*) from _import_new").fetchone()[0]
    if added <= (SHORT_LOCK_ROWS if short_lock_rows is None else short_lock_rows):
        cur.execute("drop table _import_new")

        def body(c):
            n = insert_staged(ws, c, relation)
            record(c, n)
            return n

        return ws.write(body, cur=cur)

    data_dir = Path(ws.data_path) / "main" / "ledger"
    try:
        for _ in range(MAX_CLASHES):
            out = data_dir / f"import-{import_id}-{uuid.uuid4().hex[:8]}.parquet"
            data_dir.mkdir(parents=True, exist_ok=True)
            target = str(out).replace("'", "''")
            # in time order: each row group then covers a short span, so a date range skips the rest
            cur.execute(f"copy (select * from _import_new order by ts) to '{target}' "
                        "(format parquet, compression zstd)")
            cur.execute("create or replace temp table _import_sums as " + aggregate_sql("_import_new"))

            def body(c, s0=s0, target=target, added=added):
                ws.bump(c, "ledger")
                s1 = ws.snapshot(c)
                if s1 > s0 and c.execute(
                        f"select count(*) from ducklake_table_insertions('{ws.alias}', 'main', "
                        f"'ledger', {s0 + 1}, {s1}) i where i.call_id in "
                        "(select call_id from _import_new)").fetchone()[0]:
                    raise _Clash()
                c.execute(f"call ducklake_add_data_files('{ws.alias}', 'ledger', '{target}')")
                c.execute("insert into ledger_daily select * from _import_sums")
                record(c, added)
                return added

            try:
                return ws.write(body, cur=cur)
            except _Clash:
                out.unlink(missing_ok=True)
            except BaseException:
                out.unlink(missing_ok=True)  # a rolled-back registration leaves the file behind
                raise
            # recompute against the ledger as it is now
            s0 = ws.snapshot(cur)
            cur.execute("delete from _import_new where call_id in (select call_id from ledger)")
            added = cur.execute("select count(*) from _import_new").fetchone()[0]
            if added == 0:
                return ws.write(lambda c: (ws.bump(c, "ledger"), record(c, 0), 0)[-1], cur=cur)
        raise RuntimeError("the import kept clashing with concurrent imports of the same rows")
    finally:
        cur.execute("drop table if exists _import_new")
        cur.execute("drop table if exists _import_sums")


def _typed(ws: Workspace, cur) -> str:
    """The ledger's columns cast to its own types, so a Parquet file matches the table exactly."""
    types = dict(cur.execute(
        "select column_name, data_type from duckdb_columns() where database_name = ? "
        "and schema_name = 'main' and table_name = 'ledger'", [ws.alias]).fetchall())
    return ", ".join(f"cast({c} as {types[c]}) as {c}" for c in ALL_COLUMNS)

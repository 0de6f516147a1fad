"""Has a table changed? The newest catalog snapshot that changed each table, read cheaply.

Every read of a DuckLake table costs DuckLake about 7 queries of its catalog (snapshot, stats,
file list, inlined data...): 10-40 ms of CPU here, however small the table (bench/RESULTS.md).
The catalog itself says which snapshot changed what (``ducklake_snapshot_changes.changes_made``,
e.g. ``inlined_insert:5,deleted_from_table:3``, ``altered_table:3``, ``merge_adjacent:3``,
``created_table:"main"."a"``), so :class:`TableVersions` answers "which snapshot last changed
these tables?" with one query of the catalog, run by the catalog's own database (SQLite through
DuckDB's ``sqlite_query``, PostgreSQL through ``postgres_query``), reading only the snapshots
committed since its previous answer: about 1.3 ms of CPU, whatever the tables' size.

Python's own ``sqlite3`` would be 100x cheaper, but it is a second copy of SQLite in a process
where DuckDB's copy holds the same catalog open: POSIX locks do not see each other inside one
process, so DuckDB's copy checkpoints and resets the WAL under the other one (measured:
"database disk image is malformed" after a compaction; SQLite's "How To Corrupt" §2.2). Only
DuckDB's copy reads the catalog in-process.

A version is an ``int`` that changes whenever the table changes (data, schema, a drop and
re-create, a rename, a compaction rewriting its files); it may also change when the table did
not (conservative), never the other way round:

* snapshots are numbered one after another; when the snapshots committed since the last answer
  are not all there (expired by maintenance before this process saw them), every table counts
  as changed at the newest snapshot;
* a change this module cannot attribute to a table counts as a change of every table;
* a table's version is at least the snapshot that created its current catalog row (so a table
  dropped and created again, or renamed, changes too); a table that does not exist is ``-1``.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterable

import duckdb

MISSING = -1
_ENTRY = re.compile(r'(\w+):((?:"(?:[^"]|"")*"(?:\.)?)+|[^,]*)(?:,|$)')
# named entries that change no table's rows or schema (a table's creation is its begin_snapshot)
_NAMED_HARMLESS = {"created_schema", "created_table", "created_view", "created_scalar_macro",
                   "created_table_macro", "created_macro"}

CATALOG_SQL = """
select 'c' as k, cast(snapshot_id as text) as a, changes_made as b, '' as c from {p}ducklake_snapshot_changes
  where snapshot_id > {seen}
union all
select 't', cast(t.table_id as text), t.table_name, cast(t.begin_snapshot as text)
  from {p}ducklake_table t join {p}ducklake_schema s on s.schema_id = t.schema_id
  where t.end_snapshot is null and s.end_snapshot is null and s.schema_name = 'main'
union all
select 's', cast(min(snapshot_id) as text), cast(max(snapshot_id) as text), '' from {p}ducklake_snapshot
"""


def parse_changes(text: str | None) -> tuple[set[int], bool]:
    """(table ids a ``changes_made`` text names, whether it holds a change of unknown scope).

    >>> parse_changes('inlined_insert:5,deleted_from_table:3,created_table:"main"."a,b"')
    ({3, 5}, False)
    >>> parse_changes('altered_table:3'), parse_changes('something_new:"x"')
    (({3}, False), (set(), True))
    """
    ids: set[int] = set()
    unknown = False
    for kind, value in _ENTRY.findall(text or ""):
        if value.isdigit():
            ids.add(int(value))
        elif kind not in _NAMED_HARMLESS:
            unknown = True
    return ids, unknown


class TableVersions:
    """The change-tracking state of one attached workspace in one process (thread-safe).

    ``query(sql)`` runs a statement in the catalog's database and returns its rows.
    """

    def __init__(self, kind: str, alias: str, schema: str | None = None):
        self.kind = kind
        self.alias = alias
        self.schema = schema
        self._lock = threading.Lock()
        self._seen: int | None = None  # newest snapshot whose changes were read
        self._floor = MISSING  # every table changed at least here (conservative resets)
        self._changed: dict[int, int] = {}  # table id -> newest snapshot that named it
        self.checks = 0
        self.resets = 0

    def sql(self, seen: int) -> str:
        prefix = f'"{self.schema}".' if self.schema else ""
        inner = CATALOG_SQL.format(p=prefix, seen=int(seen))
        function = "postgres_query" if self.kind == "postgresql" else "sqlite_query"
        return f"select * from {function}('__ducklake_metadata_{self.alias}', " + \
            "'" + inner.replace("'", "''") + "')"

    def versions(self, cur: duckdb.DuckDBPyConnection, tables: Iterable[str] | None) -> dict[str, int]:
        """The newest snapshot that changed each of ``tables`` (``-1``: no such table; None:
        every table there is)."""
        with self._lock:
            seen = -1 if self._seen is None else self._seen
            rows = cur.execute(self.sql(seen)).fetchall()
            self.checks += 1
            changes = sorted((int(a), b) for kind, a, b, _ in rows if kind == "c")
            current = {b: (int(a), int(c)) for kind, a, b, c in rows if kind == "t"}
            lowest, newest = next((int(a), int(b)) for kind, a, b, _ in rows if kind == "s")
            if self._seen is not None:
                expected = list(range(self._seen + 1, newest + 1))
                if [s for s, _ in changes] != expected or lowest > self._seen + 1:
                    self._floor = newest  # snapshots expired unseen: everything may have changed
                    self.resets += 1
            for snapshot, text in changes:
                ids, unknown = parse_changes(text)
                for table_id in ids:
                    self._changed[table_id] = snapshot
                if unknown:
                    self._floor = max(self._floor, snapshot)
            self._seen = max(seen, newest)
            out = {}
            for name in (current if tables is None else tables):
                if name not in current:
                    out[name] = MISSING
                    continue
                table_id, begin = current[name]
                out[name] = max(begin, self._changed.get(table_id, MISSING), self._floor)
            return out

"""Rows that are retired, never deleted: a key revoked, a webhook removed, kept for the record.

A retired row gets the time in its end column (``revoked_at``, ``removed_at``); "active" means the
end column is NULL, and a name is unique among active rows. A reference is an id or a name. Writers
bump the table's lock row first, so two processes retiring, or adding under, the same name are
serialised.
"""
from __future__ import annotations

from datetime import UTC, datetime

from core.workspace.store import Workspace


def active_name_taken(cur, table: str, end_column: str, name: str) -> bool:
    """Whether an active row of ``table`` has this name (call inside a write, after bumping the
    table's lock row). ``table`` and the column are the caller's constants, never user input."""
    return bool(cur.execute(f"select count(*) from {table} where name = ? and {end_column} is null",
                            [name]).fetchone()[0])


def retire(ws: Workspace, table: str, *, id_column: str, end_column: str, ref: str,
           lock: str | None = None) -> bool:
    """Stamp the end column of the active row whose id or name is ``ref``; False when none.
    ``table`` and the columns are the caller's constants, never user input."""
    def body(cur) -> bool:
        ws.bump(cur, lock or table)
        row = cur.execute(f"select {id_column} from {table} where ({id_column} = ? or name = ?) "
                          f"and {end_column} is null limit 1", [ref, ref]).fetchone()
        if row is None:
            return False
        cur.execute(f"update {table} set {end_column} = ? where {id_column} = ?",
                    [datetime.now(UTC).replace(tzinfo=None), row[0]])
        return True

    return ws.write(body)

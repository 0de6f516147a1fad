"""Rows that are retired, never deleted: a key revoked, a webhook removed, kept for the record.

A retired row gets the time in its end column (``revoked_at``, ``removed_at``); "active" means the
end column is NULL. A reference is an id or a name. The lock row named ``lock`` is bumped first,
so two processes retiring (or adding under) the same name are serialised.
"""
from __future__ import annotations

from datetime import UTC, datetime

from core.workspace.store import Workspace


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

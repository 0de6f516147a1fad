"""Per-task settings stored in the workspace: which tasks tolerate delay (may go to a batch API).

A task is named as in the eval sets and the ledger; the flag holds for that task in every eval set
of the workspace.

>>> ws = Workspace(":memory:")
>>> set_delay_tolerant(ws, "billing", True); set_delay_tolerant(ws, "legal", True)
>>> sorted(delay_tolerant_tasks(ws))
['billing', 'legal']
>>> set_delay_tolerant(ws, "legal", False); sorted(delay_tolerant_tasks(ws))
['billing']
"""
from __future__ import annotations

from core.errors import InputError
from core.workspace import Workspace

MIGRATIONS = [
    # v1, DuckLake-compatible: one row per task (a change deletes, then inserts, under the
    # 'task_settings' lock row)
    """
    create table task_settings (
        task varchar not null,
        delay_tolerant boolean not null default false,   -- may wait up to a day (batch APIs)
        updated_at timestamp not null default current_timestamp
    );
    insert into store_locks values ('task_settings', 0);
    """,
]


def _ensure(ws: Workspace) -> None:
    ws.ensure("task_settings", MIGRATIONS)


def delay_tolerant_tasks(ws: Workspace) -> frozenset[str]:
    """The tasks flagged as tolerating delay."""
    _ensure(ws)
    rows = ws.cursor().execute("select task from task_settings where delay_tolerant").fetchall()
    return frozenset(r[0] for r in rows)


def set_delay_tolerant(ws: Workspace, task: str, tolerant: bool) -> None:
    """Flag ``task`` as tolerating delay (or not)."""
    name = str(task or "").strip()
    if not name:
        raise InputError("A task setting needs a task name")
    _ensure(ws)

    def body(cur):
        ws.bump(cur, "task_settings")
        cur.execute("delete from task_settings where task = ?", [name])
        cur.execute("insert into task_settings (task, delay_tolerant, updated_at) "
                    "values (?, ?, current_timestamp)", [name, bool(tolerant)])

    ws.write(body)

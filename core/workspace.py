"""The workspace: one DuckDB file holding eval sets, results, the ledger, budgets and policies.

One process holds the file (DuckDB allows a single writer process); inside the process there is
one connection and every thread takes its own ``cursor()``. Each component owns its tables and
migrates them itself on first use::

    ws = open_workspace()                      # data/workspace.duckdb or $TRADEOFF_WORKSPACE
    ws.ensure("ledger", LEDGER_MIGRATIONS)     # applies the migrations not yet applied
    ws.cursor().sql("select count(*) from ledger").fetchone()

Migrations are append-only lists of SQL scripts; the version stored per component in
``schema_versions`` is the number already applied, so later releases add scripts and old files
upgrade in place.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb

from core.errors import WorkspaceLockedError
from core.settings import DEFAULT_WORKSPACE, WORKSPACE_ENV, env_path

DEFAULT_PATH = DEFAULT_WORKSPACE


def default_path() -> Path:
    return env_path(WORKSPACE_ENV) or DEFAULT_PATH


class Workspace:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WorkspaceLockedError(
                    f"The workspace {self.path} is open in another process (the app or another "
                    "command). Close it, or point TRADEOFF_WORKSPACE at another file."
                ) from None
            raise
        self._local = threading.local()
        self._lock = threading.RLock()
        self._ensured: set[str] = set()
        with self._lock:
            self._con.execute(
                "create table if not exists schema_versions ("
                " component varchar primary key, version integer not null,"
                " updated_at timestamp default current_timestamp)"
            )

    # -- connections -------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor private to the calling thread (DuckDB connections are not thread-safe)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing: a failure inside leaves the workspace exactly as it was."""
        cur = self._con.cursor()  # a fresh cursor so nested use on this thread cannot interfere
        cur.execute("begin transaction")
        try:
            yield cur
        except BaseException:
            cur.execute("rollback")
            cur.close()
            raise
        cur.execute("commit")
        cur.close()

    # -- schema ------------------------------------------------------------------------------
    def ensure(self, component: str, migrations: Sequence[str]) -> None:
        """Apply the migrations of ``component`` that this file has not seen yet."""
        if component in self._ensured:
            return
        with self._lock:
            if component in self._ensured:
                return
            cur = self._con.cursor()
            row = cur.execute(
                "select version from schema_versions where component = ?", [component]
            ).fetchone()
            applied = row[0] if row else 0
            if applied > len(migrations):
                raise RuntimeError(
                    f"The workspace {self.path} was written by a newer Tradeoff "
                    f"({component} schema v{applied}, this release knows v{len(migrations)})."
                )
            for version in range(applied, len(migrations)):
                cur.execute("begin transaction")
                try:
                    cur.execute(migrations[version])
                    cur.execute(
                        "insert or replace into schema_versions (component, version, updated_at)"
                        " values (?, ?, current_timestamp)",
                        [component, version + 1],
                    )
                    cur.execute("commit")
                except BaseException:
                    cur.execute("rollback")
                    raise
            cur.close()
            self._ensured.add(component)

    def close(self) -> None:
        with _OPEN_LOCK:  # forget it only if it is the process-wide one (not a private handle)
            key = str(self.path.resolve()) if str(self.path) != ":memory:" else id(self)
            if _OPEN.get(key) is self:
                _OPEN.pop(key)
        self._con.close()


_OPEN: dict[object, Workspace] = {}
_OPEN_LOCK = threading.Lock()


def open_workspace(path: str | Path | None = None) -> Workspace:
    """The process-wide workspace for ``path`` (default: :func:`default_path`), opened once."""
    target = Path(path) if path is not None else default_path()
    key = str(target.resolve())
    with _OPEN_LOCK:
        ws = _OPEN.get(key)
        if ws is None:
            ws = Workspace(target)
            _OPEN[key] = ws
        return ws

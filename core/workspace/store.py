"""The workspace: eval sets, runs, the ledger, budgets and policies, for many processes at once.

A workspace is a DuckLake: a catalog (SQLite embedded, PostgreSQL in team mode) plus Parquet
files. Any number of processes (the console, CLI imports and reports, live runs, gateway
workers) read and write it at once; reads never wait, writes go through one mechanism
(:meth:`Workspace.write`) that serialises and retries them. Each component owns its tables and
migrates them itself on first use::

    ws = open_workspace()                      # $TRADEOFF_STORE, $TRADEOFF_WORKSPACE or data/workspace/
    ws.ensure("ledger", LEDGER_MIGRATIONS)     # applies the migrations not yet applied
    ws.cursor().execute("select count(*) from ledger").fetchone()
    ws.write(lambda cur: cur.execute("insert into ledger select * from batch"))

Migrations are append-only lists of SQL scripts; the version stored per component in
``schema_versions`` is the number already applied. DuckLake tables have no PRIMARY KEY, UNIQUE,
sequences, indexes or ENUMs: ids are made by the application (:meth:`Workspace.next_id`), upserts
are a delete and an insert in one write, and wherever a uniqueness check must hold under
concurrency the writer first bumps a row of ``store_locks`` (:meth:`Workspace.bump`): two such
transactions conflict at commit, the loser is re-run and sees the winner's rows.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import random
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import duckdb

from core.errors import InputError, StoreUnavailableError
from core.settings import DEFAULT_WORKSPACE
from core.workspace import engine
from core.workspace.faults import store_fault_message
from core.workspace.location import Location, redact, resolve
from core.workspace.versions import MISSING as MISSING_TABLE
from core.workspace.versions import TableVersions
from core.workspace.writes import FileLock, run_write

T = TypeVar("T")
DEFAULT_PATH = DEFAULT_WORKSPACE

STORE_TABLES = """
    create table if not exists schema_versions (
        component varchar not null, version integer not null, updated_at timestamp);
    create table if not exists store_locks (name varchar not null, n bigint not null);
"""
_aliases = itertools.count(1)
ATTACH_ATTEMPTS = 20
INIT_RACE = ("already exists", "duplicate key value", "database is locked", "Transaction conflict")


def default_path() -> str:
    """The identity of the workspace the environment names (no password in it): a cache key
    that changes when TRADEOFF_STORE or TRADEOFF_WORKSPACE points elsewhere."""
    return resolve().key


def default_label() -> str:
    """How the workspace the environment names is shown to people (no password in it)."""
    try:
        return resolve().label
    except InputError:  # a malformed TRADEOFF_STORE: its own error says what is wrong
        return "named by TRADEOFF_STORE"


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _option(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return _quote(value)


class Workspace:
    """One attached workspace. Thread-safe: every thread reads through its own :meth:`cursor`."""

    def __init__(self, path: str | os.PathLike | Location | None = None, *,
                 progress: Callable[[str], None] | None = None):
        self.location = path if isinstance(path, Location) else resolve(path)
        self.label = self.location.label
        self.key = self.location.key
        self.path: Path | None = self.location.root  # None in team mode
        self.alias = f"ws{next(_aliases)}"
        self.progress = progress or _stderr_progress
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._lock = threading.RLock()
        self._ensured: set[str] = set()
        self._generation = None
        self.closed = False
        self._versions = self._new_versions()
        self._write_lock = (FileLock(str(self.location.catalog_file) + ".writelock")
                            if self.location.kind == "embedded" else contextlib.nullcontext())
        try:
            self._open()
        except BaseException:
            self.close()  # detach what was attached; nothing written is lost
            raise

    # -- attaching ---------------------------------------------------------------------------
    def _open(self) -> None:
        from core.workspace import legacy

        loc = self.location
        if loc.kind == "embedded":
            try:
                (loc.root / "data").mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"Cannot create the workspace directory {loc.root}: {exc.strerror}. Point "
                    "TRADEOFF_WORKSPACE at a directory you can write.") from None
        old = loc.legacy_file if loc.legacy_file is not None and loc.legacy_file.is_file() else None
        migrate_lock = FileLock(loc.root / ".migrate.lock") if old else contextlib.nullcontext()
        with migrate_lock:
            new = old is not None and not loc.catalog_file.exists()
            self._attach()
            self._bootstrap(legacy_pending=new)
            if old is not None and self._version("legacy") == 0:
                legacy.load(self, old)

    def _attach(self) -> None:
        loc = self.location
        with self._lock:
            engine.load("ducklake")
            engine.load(loc.scanner)
            options = ", ".join(f"{k} {_option(v)}" for k, v in loc.options.items())
            sql = f"ATTACH {_quote(loc.catalog)} AS {self.alias}" + (f" ({options})" if options else "")
            for attempt in range(1, ATTACH_ATTEMPTS + 1):
                try:
                    engine.engine().execute(sql)
                    break
                except duckdb.Error as exc:
                    # processes creating one new lake at once race in DuckLake's initialization:
                    # the losers find the winner's tables and attach again
                    if attempt == ATTACH_ATTEMPTS or not any(m in str(exc) for m in INIT_RACE):
                        raise StoreUnavailableError(self._attach_message(exc)) from None
                    time.sleep(random.uniform(0.05, 0.3))
            self._generation = engine.generation()

    def _attach_message(self, exc: duckdb.Error) -> str:
        text = redact(str(exc), self.location)
        if self.location.kind == "postgresql":
            if "DATA_PATH" in text or "data path" in text.lower():
                return (f"The team store {self.label} is new and needs a data path for its Parquet "
                        "files: add ?data_path=/shared/dir to TRADEOFF_STORE or set "
                        "TRADEOFF_DATA_PATH (a directory every machine can reach).")
            return (f"Cannot reach the team store {self.label}: {text.splitlines()[0][:300]}. Check "
                    "that the PostgreSQL server is running and that TRADEOFF_STORE is right.")
        return (f"Cannot open the workspace {self.label}: {text.splitlines()[0][:300]}. Check that "
                "the directory is on a local disk you can write (TRADEOFF_WORKSPACE).")

    def _new_versions(self) -> TableVersions:
        return TableVersions(self.location.kind, self.alias, self.location.options.get("METADATA_SCHEMA"))

    def _reattach_if_forked(self) -> None:
        if self._generation != engine.generation():
            self._local = threading.local()
            self._cursors = []
            self._versions = self._new_versions()  # its lock may have been held across the fork
            self._attach()

    def _bootstrap(self, legacy_pending: bool) -> None:
        cur = self.cursor()
        have = {r[0] for r in cur.execute(
            "select table_name from duckdb_tables() where database_name = ? and schema_name = 'main'"
            " and table_name in ('schema_versions', 'store_locks')", [self.alias]).fetchall()}
        if len(have) == 2 and not legacy_pending:
            return

        def body(c):
            c.execute(STORE_TABLES)
            for name in ("schema", "maintenance"):
                if not c.execute("select count(*) from store_locks where name = ?", [name]).fetchone()[0]:
                    c.execute("insert into store_locks values (?, 0)", [name])
            if legacy_pending and not c.execute(
                    "select count(*) from schema_versions where component = 'legacy'").fetchone()[0]:
                c.execute("insert into schema_versions values ('legacy', 0, current_timestamp)")
        self.write(body)

    # -- connections -------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection private to the calling thread, reading this workspace's tables.

        Use ``execute`` on it: a relation made with ``.sql()`` while an earlier result is not
        fully fetched binds in that result's (older) snapshot of the catalog.
        """
        self._reattach_if_forked()
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self.new_cursor()
            self._local.cursor = cur
            with self._lock:
                self._cursors.append(cur)
        return cur

    def new_cursor(self) -> duckdb.DuckDBPyConnection:
        """A fresh connection (its own temp tables and settings); the caller closes it.

        ``USE`` is per connection: a bare ``engine().cursor()`` would read DuckDB's in-memory
        catalog, not the workspace.
        """
        self._reattach_if_forked()
        cur = engine.cursor()
        cur.execute(f"USE {self.alias}")
        return cur

    # -- writing -----------------------------------------------------------------------------
    @property
    def write_lock(self) -> contextlib.AbstractContextManager:
        """Held from BEGIN to COMMIT by every writer of an embedded workspace (none in team
        mode: PostgreSQL serialises commits and DuckLake retries insert races itself)."""
        return self._write_lock

    def write(self, body: Callable[[duckdb.DuckDBPyConnection], T], *,
              cur: duckdb.DuckDBPyConnection | None = None,
              on_retry: Callable[[int, BaseException], None] | None = None) -> T:
        """Run ``body(cur)`` as one all-or-nothing write, re-run after a lost commit race.

        ``body`` must be safe to re-run (the failed attempt was rolled back). ``cur``: run on
        that connection, e.g. one holding the temp tables the body reads.
        """
        try:
            return run_write(self.new_cursor, self._write_lock, body, cur=cur, on_retry=on_retry)
        except duckdb.Error as exc:
            message = store_fault_message(exc, self.location)
            if message:
                raise StoreUnavailableError(message) from None
            raise
        finally:
            self._wrote()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing, single attempt (a ``with`` body cannot be re-run): prefer
        :meth:`write`, which retries a lost commit race."""
        cur = self.new_cursor()
        try:
            with self._write_lock:
                cur.execute("begin transaction")
                try:
                    yield cur
                except BaseException:
                    with contextlib.suppress(duckdb.Error):
                        cur.execute("rollback")
                    raise
                cur.execute("commit")
        finally:
            cur.close()
            self._wrote()

    def bump(self, cur: duckdb.DuckDBPyConnection, name: str, floor_sql: str | None = None) -> int:
        """Increment the lock row ``name`` inside the current write and return its new value.

        Two writes that bump the same row conflict at commit, so the loser is re-run after the
        winner: this serialises check-then-insert logic across processes and machines.
        ``floor_sql`` (a scalar query) keeps the value above existing data (ids copied from an
        older workspace).
        """
        value = "n + 1" if floor_sql is None else f"greatest(n, coalesce(({floor_sql}), 0)) + 1"
        updated = cur.execute(f"update store_locks set n = {value} where name = ?", [name]).fetchone()[0]
        if not updated:
            raise RuntimeError(f"No row '{name}' in store_locks: a component's migration must insert it")
        return int(cur.execute("select max(n) from store_locks where name = ?", [name]).fetchone()[0])

    def next_id(self, cur: duckdb.DuckDBPyConnection, name: str, table: str, column: str = "id") -> int:
        """A new integer id for ``table`` (unique under concurrency: see :meth:`bump`)."""
        return self.bump(cur, name, floor_sql=f"select max({column}) from {table}")

    # -- schema ------------------------------------------------------------------------------
    def _version(self, component: str) -> int | None:
        row = self.cursor().execute(
            "select max(version) from schema_versions where component = ?", [component]).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def ensure(self, component: str, migrations: Sequence[str], *,
               legacy_fixups: Sequence[str] = ()) -> None:
        """Apply the migrations of ``component`` that this workspace has not seen yet.

        Processes starting at once serialise on the ``schema`` lock row. When the workspace was
        migrated from a single-file workspace, the component's tables are filled from the old
        ones (columns matched by name) as they are created, then ``legacy_fixups`` run (e.g. a
        rollup rebuilt from the rows just copied).
        """
        if component in self._ensured:
            return
        with self._lock:
            if component in self._ensured:
                return
            applied = self._version(component) or 0
            if applied > len(migrations):
                raise StoreUnavailableError(
                    f"The workspace {self.label} was written by a newer Tradeoff ({component} schema "
                    f"v{applied}, this release knows v{len(migrations)}): upgrade Tradeoff.")
            if applied < len(migrations):
                self.write(lambda cur: self._migrate(cur, component, migrations, legacy_fixups))
            self._ensured.add(component)

    def _migrate(self, cur, component: str, migrations: Sequence[str], fixups: Sequence[str]) -> None:
        from core.workspace import legacy

        self.bump(cur, "schema")
        row = cur.execute("select max(version) from schema_versions where component = ?",
                          [component]).fetchone()
        applied = int(row[0]) if row and row[0] is not None else 0
        if applied >= len(migrations):
            return  # another process did it while this one waited
        before = self.tables(cur)
        for version in range(applied, len(migrations)):
            cur.execute(migrations[version])
        if applied == 0:
            created = [t for t in self.tables(cur) if t not in before]
            legacy.copy_tables(self, cur, created, fixups)
        cur.execute("delete from schema_versions where component = ?", [component])
        cur.execute("insert into schema_versions values (?, ?, current_timestamp)",
                    [component, len(migrations)])

    def tables(self, cur, schema: str = "main") -> list[str]:
        return [r[0] for r in cur.execute(
            "select table_name from duckdb_tables() where database_name = ? and schema_name = ?",
            [self.alias, schema]).fetchall()]

    # -- facts -------------------------------------------------------------------------------
    def snapshot(self, cur: duckdb.DuckDBPyConnection | None = None) -> int:
        """The newest committed snapshot (every commit makes one)."""
        row = (cur or self.cursor()).execute(
            f"select id from ducklake_current_snapshot({_quote(self.alias)})").fetchone()
        return int(row[0])

    def table_versions(self, tables: Sequence[str]) -> dict[str, int]:
        """The newest snapshot that changed each of ``tables`` (any process's change; ``-1``: no
        such table): one query of the catalog, ~1.3 ms of CPU, instead of reading the tables
        (:mod:`core.workspace.versions`). Read it *before* the data it stands for."""
        self._reattach_if_forked()
        shared = getattr(self._local, "versions_shared", None)
        if shared is None:
            return self._read_versions(tables)
        if not shared:  # inside versions_shared(), not read since this thread's last write
            shared = self._local.versions_shared = self._read_versions(None)
        return {name: shared.get(name, MISSING_TABLE) for name in tables}

    def _read_versions(self, tables: Sequence[str] | None) -> dict[str, int]:
        cur = getattr(self._local, "catalog_cursor", None)
        if cur is None:
            # not USE-ing the lake: a connection whose default catalog is the DuckLake pays its
            # metadata queries on every statement, even `select 1` (6 ms of CPU, measured)
            cur = engine.cursor()
            self._local.catalog_cursor = cur
            with self._lock:
                self._cursors.append(cur)
        try:
            return self._versions.versions(cur, tables)
        except duckdb.Error as exc:
            message = store_fault_message(exc, self.location)
            if message:
                raise StoreUnavailableError(message) from None
            raise

    @contextlib.contextmanager
    def versions_shared(self) -> Iterator[None]:
        """Inside, this thread's :meth:`table_versions` calls share one catalog query (of every
        table) until this workspace writes from this thread, which makes the next call read
        again. For a loop that makes many cached reads at one moment (the gateway's store agent
        makes ~8 a cycle, twice a second): another process's commit during the block is seen by
        the next block, as if it had committed a moment later.
        """
        previous = getattr(self._local, "versions_shared", None)
        self._local.versions_shared = {}
        try:
            yield
        finally:
            self._local.versions_shared = previous

    def _wrote(self) -> None:
        if getattr(self._local, "versions_shared", None):
            self._local.versions_shared = {}  # read again: this thread just changed a table

    @property
    def data_path(self) -> str:
        """Where this workspace's Parquet files live."""
        return self.cursor().execute(
            f"select data_path from ducklake_settings({_quote(self.alias)})").fetchone()[0]

    def ping(self) -> None:
        """Raise :class:`StoreUnavailableError` unless the catalog answers now."""
        try:
            self.snapshot(self.cursor())
        except duckdb.Error as exc:
            raise StoreUnavailableError(
                store_fault_message(exc, self.location) or redact(str(exc), self.location)) from None

    def close(self) -> None:
        self.closed = True
        with _OPEN_LOCK:
            if _OPEN.get(self.key) is self:
                _OPEN.pop(self.key, None)
        with self._lock:
            for cur in self._cursors:
                with contextlib.suppress(duckdb.Error):
                    cur.close()
            self._cursors = []
            self._local = threading.local()
            if self._generation == engine.generation():
                with contextlib.suppress(duckdb.Error):
                    engine.engine().execute(f"DETACH {self.alias}")
        if self.location.temporary and self.location.root is not None:
            shutil.rmtree(self.location.root, ignore_errors=True)

    def __repr__(self) -> str:
        return f"Workspace({self.label!r})"


def _stderr_progress(message: str) -> None:
    print(f"workspace: {message}", file=sys.stderr, flush=True)


_OPEN: dict[str, Workspace] = {}
_OPEN_LOCK = threading.RLock()  # re-entered by a Workspace that fails to open and closes itself


def open_workspace(path: str | os.PathLike | None = None, *,
                   progress: Callable[[str], None] | None = None) -> Workspace:
    """The process-wide workspace for ``path`` (default: the environment's), opened once."""
    location = resolve(path)
    with _OPEN_LOCK:
        ws = _OPEN.get(location.key)
        if ws is None:
            ws = Workspace(location, progress=progress)
            _OPEN[location.key] = ws
        return ws


def open_keys() -> set[str]:
    """The workspaces this process holds open through :func:`open_workspace`."""
    with _OPEN_LOCK:
        return set(_OPEN)


def close_workspaces(keep: set[str] | frozenset = frozenset()) -> None:
    """Close every workspace :func:`open_workspace` opened, but those in ``keep``."""
    with _OPEN_LOCK:
        victims = [ws for key, ws in _OPEN.items() if key not in keep]
    for ws in victims:
        ws.close()

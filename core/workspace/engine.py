"""The process's one DuckDB instance, with DuckLake loaded from the PyPI wheels, offline.

Every workspace a process opens is ``ATTACH``-ed to this one in-memory instance under its own
alias, so the extension files (35-42 MB each; 0.4-1.0 s to load, measured) are loaded once per
process, not once per workspace, and only the catalog scanner in use is loaded (``sqlite_scanner``
for the embedded store, ``postgres_scanner`` for team mode).

Extensions come from the wheels ``duckdb-extension-ducklake``, ``-sqlite`` and ``-postgres``
(pinned to the engine's exact version): never ``INSTALL``, and auto-install/auto-load are off
(they would try the network). DuckDB takes an extension's entry point from its file name, and
the sqlite/postgres wheels ship ``sqlite.duckdb_extension`` / ``postgres.duckdb_extension``
whose entry points are ``sqlite_scanner_*`` / ``postgres_scanner_*``; so the files are linked
(or copied) once under the names DuckDB expects into ``<cache>/duckdb-ext-<version>/``.

After a ``fork`` the child gets a new instance (a DuckDB instance cannot cross a fork);
workspaces re-attach to it on their next use (:func:`generation`).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
from pathlib import Path

import duckdb

from core.errors import StoreUnavailableError
from core.settings import cache_dir

# the name DuckDB must see -> the wheel that ships the file
EXTENSIONS = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite",
    "postgres_scanner": "duckdb_extension_postgres",
}
CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

_lock = threading.RLock()
_state: dict = {"con": None, "pid": None, "generation": 0, "loaded": set()}


def extension_file(name: str) -> Path:
    """The extension ``name`` under the file name DuckDB expects (linked once per version)."""
    version = duckdb.__version__
    target = cache_dir() / f"duckdb-ext-{version}" / f"{name}.duckdb_extension"
    if target.exists():  # a dangling link (the wheel moved) fails exists() and is made again
        return target
    package = EXTENSIONS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise StoreUnavailableError(
            f"The Python package {package.replace('_', '-')}=={version} is not installed; "
            "run: pip install -r requirements.txt")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob(
        f"extensions/v{version}/*.duckdb_extension"))
    if not found:
        raise StoreUnavailableError(
            f"{package.replace('_', '-')} holds no extension built for DuckDB {version}: install "
            f"the same version as duckdb ({package.replace('_', '-')}=={version})")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent)) / target.name
    try:
        try:
            tmp.symlink_to(found[0])
        except OSError:  # no symlinks here (some Windows setups): copy
            shutil.copyfile(found[0], tmp)
        os.replace(tmp, target)  # atomic: concurrent first runs agree
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)
    return target


def engine() -> duckdb.DuckDBPyConnection:
    """The process-wide DuckDB connection (new after a fork)."""
    with _lock:
        if _state["con"] is None or _state["pid"] != os.getpid():
            # a connection inherited through fork is unusable; it is dropped, not closed
            _state.update(con=duckdb.connect(config=CONFIG), pid=os.getpid(), loaded=set(),
                          generation=_state["generation"] + 1)
        return _state["con"]


def generation() -> int:
    """Changes whenever :func:`engine` starts a new instance: attachments must be redone."""
    engine()
    return _state["generation"]


def load(name: str) -> None:
    """Load one extension into the engine, once."""
    con = engine()
    with _lock:
        if name in _state["loaded"]:
            return
        path = str(extension_file(name)).replace("'", "''")
        con.execute(f"LOAD '{path}'")
        if name == "ducklake":
            # DuckLake's own commit retry (insert-vs-insert races re-committed without
            # rewriting files): more tries than the default 10, a shorter first wait
            con.execute("SET GLOBAL ducklake_max_retry_count = 30")
            con.execute("SET GLOBAL ducklake_retry_wait_ms = 20")
            con.execute("SET GLOBAL ducklake_retry_backoff = 1.5")
        _state["loaded"].add(name)


def cursor() -> duckdb.DuckDBPyConnection:
    """A new connection to the engine (each thread needs its own)."""
    con = engine()
    with _lock:
        return con.cursor()


def preload(*names: str) -> None:
    """Start loading extensions in a background thread (once per process): a process that will
    open a workspace overlaps the 0.4-1 s of loading with its own start-up work."""
    with _lock:
        if _state.get("preloading") == os.getpid():
            return
        _state["preloading"] = os.getpid()

    def run() -> None:
        for name in ("ducklake", *names):
            try:
                load(name)
            except Exception:  # the real open reports it
                return

    threading.Thread(target=run, name="tradeoff-duckdb-preload", daemon=True).start()

"""Single-file workspaces of the 0.2 releases, migrated on first open; the old file is kept.

Those workspaces are one DuckDB 2.0 file, which this release's DuckDB (1.5.5, the newest that
loads DuckLake offline) cannot open ("Trying to read a database file with version number ...").
On the first open of such a workspace (``TRADEOFF_WORKSPACE=.../workspace.duckdb``, or the old
default ``data/workspace.duckdb``) the new workspace directory beside it is created and:

1. every table of the old file is exported to Parquet by a subprocess
   (:mod:`core.workspace.legacy_export`): under this DuckDB when it can read the file, else
   under DuckDB 2.0, fetched once into ``<cache>/duckdb-2.0.0`` with
   ``pip install --target`` (a clear message says what to do when that fails, e.g. offline);
2. the Parquet files are loaded into a ``legacy`` schema of the new workspace, in one write;
3. each component, when it first creates its tables (:meth:`Workspace.ensure`), fills them
   from the ``legacy`` tables of the same name (columns matched by name; PRIMARY KEYs and
   sequences are gone, ids are kept) and drops them.

The old file is opened read-only and never changed: it stays where it was, as a backup. Other
processes opening the same workspace meanwhile wait on ``.migrate.lock``; a crash part-way is
redone on the next open (the ``legacy`` marker in ``schema_versions`` stays 0 until step 2 is
committed). Progress lines go to the workspace's ``progress`` callback.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from core.errors import StoreUnavailableError
from core.settings import cache_dir

LEGACY_DUCKDB = "2.0.0"  # the DuckDB the 0.2 releases pinned
EXPORTER = Path(__file__).with_name("legacy_export.py")
TOO_NEW = ("version number", "newer version of DuckDB", "created with an")


def load(ws, old_file: Path) -> None:
    """Steps 1-2 for ``ws`` (called on open while the ``legacy`` marker is 0)."""
    progress = ws.progress
    progress(f"migrating {old_file} (a workspace of an earlier release) into {ws.label}; the "
             "old file is read only and kept as a backup")
    out = ws.location.root / "legacy-export"
    shutil.rmtree(out, ignore_errors=True)
    manifest = export(old_file, out, progress)
    tables = manifest["tables"]

    def body(cur):
        cur.execute("create schema if not exists legacy")
        for table, rows in tables.items():
            name = '"' + table.replace('"', '""') + '"'
            path = str(out / f"{table}.parquet").replace("'", "''")
            cur.execute(f"drop table if exists legacy.{name}")
            cur.execute(f"create table legacy.{name} as select * from read_parquet('{path}')")
            progress(f"loaded {table} ({rows:,} rows)")
        cur.execute("update schema_versions set version = 1 where component = 'legacy'")

    ws.write(body)
    shutil.rmtree(out, ignore_errors=True)
    progress(f"migration done: {sum(tables.values()):,} rows in {len(tables)} tables; each part of "
             "the product moves its tables over when first used")


def export(old_file: Path, out: Path, progress) -> dict:
    """Run the exporter under this DuckDB, or under DuckDB 2.0 when the file needs it."""
    done = _run_exporter(old_file, out, progress, pythonpath=None)
    if done is None:
        progress(f"{old_file.name} was written by DuckDB {LEGACY_DUCKDB}: converting it with that "
                 "version in a separate process")
        done = _run_exporter(old_file, out, progress, pythonpath=fetch_duckdb(LEGACY_DUCKDB, progress))
        if done is None:
            raise StoreUnavailableError(
                f"{old_file} cannot be read by DuckDB {LEGACY_DUCKDB} either; it was not changed. "
                "Open it with the Tradeoff release that wrote it and export what you need.")
    return done


def _run_exporter(old_file: Path, out: Path, progress, pythonpath: Path | None) -> dict | None:
    """The manifest, or None when this DuckDB is too old for the file."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    proc = subprocess.Popen([sys.executable, "-P", str(EXPORTER), str(old_file), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:
        progress(line.strip())
    err = proc.stderr.read()
    if proc.wait() == 0:
        return json.loads((out / "manifest.json").read_text())
    last = next((ln for ln in reversed(err.strip().splitlines()) if ln.strip()), "")
    if any(m in err for m in TOO_NEW) and pythonpath is None:
        return None
    if "Could not set lock" in err or "Conflicting lock" in err:
        raise StoreUnavailableError(
            f"{old_file} is open in a process of an earlier Tradeoff release (it holds the file's "
            "lock). Stop that process, then open the workspace again; nothing was changed.")
    raise StoreUnavailableError(
        f"Could not read the old workspace {old_file} ({last[:300]}); it was not changed.")


def fetch_duckdb(version: str, progress) -> Path:
    """A directory holding ``duckdb==version`` for ``PYTHONPATH`` (fetched once from PyPI)."""
    target = cache_dir() / f"duckdb-{version}"
    if (target / "duckdb" / "__init__.py").exists():
        return target
    progress(f"fetching DuckDB {version} from PyPI into {target} (once)")
    tmp = target.with_name(target.name + f".part{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--target", str(tmp), f"duckdb=={version}"],
        capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        reason = next((ln for ln in reversed(done.stderr.strip().splitlines()) if ln.strip()), "")
        raise StoreUnavailableError(
            f"This workspace was written by an earlier release (DuckDB {version}) and must be "
            f"converted once, which needs DuckDB {version} from PyPI; fetching it failed "
            f"({reason[:200]}). Connect this machine to PyPI once and open the workspace again, "
            f"or run `pip install --target {target} duckdb=={version}` where PyPI is reachable and "
            "copy that directory here. The old file was not changed.")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def copy_tables(ws, cur, created: list[str], fixups) -> None:
    """Step 3: fill the tables a component just created from their ``legacy`` namesakes."""
    old = set(ws.tables(cur, "legacy")) if created else set()
    copied = False
    for table in created:
        if table not in old:
            continue
        new_cols = _columns(ws, cur, "main", table)
        old_cols = set(_columns(ws, cur, "legacy", table))
        cols = ", ".join('"' + c + '"' for c in new_cols if c in old_cols)
        name = '"' + table.replace('"', '""') + '"'
        n = cur.execute(f"insert into main.{name} ({cols}) select {cols} from legacy.{name}").fetchone()[0]
        cur.execute(f"drop table legacy.{name}")
        ws.progress(f"moved {table} ({n:,} rows) from the old workspace")
        copied = True
    if copied:
        for sql in fixups:
            cur.execute(sql)


def _columns(ws, cur, schema: str, table: str) -> list[str]:
    return [r[0] for r in cur.execute(
        "select column_name from duckdb_columns() where database_name = ? and schema_name = ? "
        "and table_name = ? order by column_index", [ws.alias, schema, table]).fetchall()]

"""Export every table of a single-file workspace to Parquet (run by :mod:`core.workspace.legacy`).

    python -P legacy_export.py OLD.duckdb OUT_DIR

Runs under whatever ``duckdb`` the interpreter imports first: the product's own for a file it
can read, or DuckDB 2.0 fetched into the cache (``PYTHONPATH``) for a workspace written by the
0.2 releases, which this release's DuckDB cannot open. Imports nothing but duckdb and the
standard library. The old file is opened read-only and never changed. Writes ``T.parquet`` per
table and ``manifest.json`` (tables, row counts, DuckDB version) last, so a manifest means a
complete export; prints one progress line per table.
"""
from __future__ import annotations

import json
import os
import sys


def export(old: str, out: str) -> dict:
    import duckdb

    os.makedirs(out, exist_ok=True)
    con = duckdb.connect(old, read_only=True)
    tables = [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where schema_name = 'main' and not temporary "
        "order by table_name").fetchall()]
    manifest = {"duckdb": duckdb.__version__, "tables": {}}
    for i, table in enumerate(tables, 1):
        path = os.path.join(out, f"{table}.parquet")
        quoted = '"' + table.replace('"', '""') + '"'
        target = "'" + path.replace("'", "''") + "'"
        con.execute(f"copy (select * from {quoted}) to {target} (format parquet, compression zstd)")
        rows = con.execute(f"select count(*) from {quoted}").fetchone()[0]
        manifest["tables"][table] = rows
        print(f"exported {table} ({rows:,} rows) [{i}/{len(tables)}]", flush=True)
    con.close()
    with open(os.path.join(out, "manifest.json.part"), "w") as fh:
        json.dump(manifest, fh)
    os.replace(os.path.join(out, "manifest.json.part"), os.path.join(out, "manifest.json"))
    return manifest


if __name__ == "__main__":
    export(sys.argv[1], sys.argv[2])

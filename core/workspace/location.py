"""Where a workspace lives: an embedded directory, or a PostgreSQL catalog (team mode).

:func:`resolve` turns a path, a store URL or the environment into a :class:`Location`:

* ``TRADEOFF_STORE`` (if set) wins over ``TRADEOFF_WORKSPACE``, which wins over the default
  ``data/workspace/``;
* a directory is the **embedded** store: ``catalog.sqlite`` (DuckLake's catalog, SQLite in WAL
  mode) and ``data/`` (Parquet files) inside it; no server;
* a path ending in ``.duckdb`` names a **single-file workspace** of the releases up to 0.2: the
  workspace is the directory beside it with the same stem (``data/workspace.duckdb`` ->
  ``data/workspace/``), migrated from the file on first open; the file is never changed;
* ``postgresql://user:pw@host:port/db?data_path=/shared/dir&schema=ws1&sslmode=require`` is
  **team mode**: the catalog in PostgreSQL (``schema``: several workspaces in one database,
  default ``public``), the Parquet files under ``data_path`` (or ``TRADEOFF_DATA_PATH``), which
  every machine must be able to read and write; other query parameters go to libpq as they are;
* ``:memory:`` is a throwaway embedded workspace in a temporary directory.

>>> loc = resolve("postgresql://ana:s3cret@db.internal:5433/tradeoff?data_path=/mnt/t&schema=ws1")
>>> loc.kind, loc.label
('postgresql', 'postgresql://ana@db.internal:5433/tradeoff?schema=ws1')
>>> loc.conninfo
'dbname=tradeoff host=db.internal port=5433 user=ana password=s3cret'
>>> loc.options["DATA_PATH"], loc.options["METADATA_SCHEMA"]
('/mnt/t/', 'ws1')
>>> loc = resolve("/srv/tradeoff/workspace.duckdb")
>>> loc.kind, loc.root.as_posix(), loc.legacy_file.as_posix()
('embedded', '/srv/tradeoff/workspace', '/srv/tradeoff/workspace.duckdb')
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from core.errors import InputError
from core.settings import (
    DATA_PATH_ENV,
    DEFAULT_WORKSPACE,
    LEGACY_WORKSPACE,
    SPOOL_DIR_ENV,
    STORE_ENV,
    WORKSPACE_ENV,
    cache_dir,
    env_path,
    env_text,
)

LEGACY_SUFFIXES = (".duckdb", ".db")
CATALOG_FILE = "catalog.sqlite"


@dataclass(frozen=True)
class Location:
    """Everything needed to attach one workspace; ``conninfo`` may hold a password (never show
    it: ``label`` is the safe name)."""

    kind: str  # "embedded" | "postgresql"
    label: str  # shown to people: a path, or the URL without its password
    key: str  # identity of the store (for per-process caches)
    options: dict = field(default_factory=dict)  # DuckLake ATTACH options
    root: Path | None = None  # embedded: the workspace directory
    legacy_file: Path | None = None  # embedded: a single-file workspace to migrate from
    conninfo: str | None = None  # team mode: the libpq connection string
    spool_dir: Path | None = None
    temporary: bool = False  # ":memory:": the directory is removed on close

    @property
    def catalog(self) -> str:
        """The DuckLake ATTACH target (may hold a password)."""
        if self.kind == "postgresql":
            return f"ducklake:postgres:{self.conninfo}"
        return f"ducklake:sqlite:{self.root / CATALOG_FILE}"

    @property
    def catalog_file(self) -> Path | None:
        return self.root / CATALOG_FILE if self.root is not None else None

    @property
    def scanner(self) -> str:
        """The DuckDB extension that reads this catalog."""
        return "postgres_scanner" if self.kind == "postgresql" else "sqlite_scanner"


def is_store_url(text: str) -> bool:
    return text.startswith(("postgresql://", "postgres://"))


def resolve(target: str | os.PathLike | None = None,
            environ: Mapping[str, str] | None = None) -> Location:
    """The location of ``target``, or of the workspace the environment names."""
    if target is None:
        target = env_text(STORE_ENV, environ) or env_path(WORKSPACE_ENV, environ)
        if target is None:
            return _embedded(DEFAULT_WORKSPACE, environ, legacy=LEGACY_WORKSPACE)
    text = str(target)
    if is_store_url(text):
        return _postgresql(text, environ)
    if text == ":memory:":
        root = Path(tempfile.mkdtemp(prefix="tradeoff-ws-"))
        return _embedded(root, environ, temporary=True)
    path = Path(text).expanduser()
    if path.suffix in LEGACY_SUFFIXES or path.is_file():
        return _embedded(path.with_suffix(""), environ, legacy=path)
    return _embedded(path, environ)


def _embedded(root: Path, environ, legacy: Path | None = None, temporary: bool = False) -> Location:
    root = Path(root).expanduser().resolve()
    spool = env_path(SPOOL_DIR_ENV, environ) or root / "spool"
    return Location(
        kind="embedded", label=str(root), key=f"embedded:{root}", root=root,
        legacy_file=Path(legacy).expanduser().resolve() if legacy is not None else None,
        spool_dir=spool, temporary=temporary,
        options={
            # Absolute, and given again on every attach: a relative DATA_PATH resolves against
            # each process's working directory, and a stored absolute one breaks when the
            # directory moves (DuckLake keeps file paths relative to the data path).
            "DATA_PATH": str(root / "data") + os.sep,
            "OVERRIDE_DATA_PATH": True,
            # WAL: in the rollback-journal mode one open reader makes every commit of another
            # process wait and fail with "database is locked" (measured).
            "META_JOURNAL_MODE": "WAL",
            "META_BUSY_TIMEOUT": 30000,
        })


def _postgresql(url: str, environ) -> Location:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"{STORE_ENV}: the port of {_redact_url(url)} is not a number") from None
    query = dict(parse_qsl(parts.query, keep_blank_values=False))
    data_path = query.pop("data_path", None) or env_text(DATA_PATH_ENV, environ)
    schema = query.pop("schema", None)
    fields = {"dbname": unquote(parts.path.lstrip("/")) or "tradeoff", "host": parts.hostname,
              "port": port, "user": unquote(parts.username) if parts.username else None,
              "password": unquote(parts.password) if parts.password else None, **query}
    conninfo = " ".join(f"{k}={_libpq_value(v)}" for k, v in fields.items() if v not in (None, ""))
    options: dict = {}
    if data_path:
        data_path = data_path if "://" in data_path else str(Path(data_path).expanduser().resolve())
        options.update(DATA_PATH=data_path.rstrip("/") + "/", OVERRIDE_DATA_PATH=True)
    if schema:
        options["METADATA_SCHEMA"] = schema
    label = _redact_url(url, drop=("data_path",))
    key = "postgresql:" + label
    spool = env_path(SPOOL_DIR_ENV, environ) or cache_dir(environ) / "spool" / \
        hashlib.sha1(key.encode()).hexdigest()[:16]
    return Location(kind="postgresql", label=label, key=key, options=options, conninfo=conninfo,
                    spool_dir=spool)


def _libpq_value(value) -> str:
    text = str(value)
    if text and re.fullmatch(r"[^\s'\\]+", text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _redact_url(url: str, drop: tuple[str, ...] = ()) -> str:
    """The URL without its password (and without the query parameters in ``drop``)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    try:
        if parts.port:
            netloc += f":{parts.port}"
    except ValueError:
        pass
    query = "&".join(f"{k}={v}" for k, v in parse_qsl(parts.query) if k not in drop and k != "password")
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def redact(text: str, location: Location) -> str:
    """``text`` with the location's password (and its whole connection string) removed."""
    if location.conninfo:
        text = text.replace(location.conninfo, location.label)
        match = re.search(r"password=(\S+)", location.conninfo)
        if match:
            text = text.replace(match.group(1), "***")
    return re.sub(r"password=[^\s'\"]+", "password=***", text)

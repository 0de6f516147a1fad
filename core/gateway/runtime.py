"""The gateway's folder on this machine: the deployments snapshot and the status.

``gateway/`` inside an embedded workspace (beside its ``spool/``), or beside the spool in team
mode (or ``$TRADEOFF_GATEWAY_DIR``), holds::

    deployments.json  what workers serve: deployed policies and price edits, as last read from
                      the store (written by the process that polls the store)
    status.json       the store's state and the ledger backlog, for /health

The calls themselves go to the workspace's spool (``Location.spool_dir``, :mod:`core.spend.spool`).
Files are replaced atomically (write, fsync, rename), so a reader never sees half of one.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from core.settings import env_path
from core.workspace.location import Location, resolve

GATEWAY_DIR_ENV = "TRADEOFF_GATEWAY_DIR"


def runtime_dir(location: Location | str | os.PathLike | None = None) -> Path:
    """The gateway folder of a workspace (created on demand)."""
    loc = location if isinstance(location, Location) else resolve(location)
    explicit = env_path(GATEWAY_DIR_ENV)
    if explicit is not None:
        path = explicit
    elif loc.root is not None and not loc.temporary:
        path = loc.root / "gateway"
    else:
        path = loc.spool_dir.with_name(loc.spool_dir.name + ".gateway")
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def stamp(path: Path) -> tuple[int, int] | None:
    """What changes when ``path`` is replaced (inode and mtime), None when absent."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns

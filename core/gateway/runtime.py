"""The gateway's folder beside the workspace: the call spool, the deployments snapshot, the status.

``<workspace>.gateway/`` (or ``$TRADEOFF_GATEWAY_DIR``) holds::

    spool/            call rows appended by workers before they answer (core.gateway.spool)
    deployments.json  what workers serve: deployed policies and price edits, as last read from
                      the store (written by the process that polls the store)
    status.json       the store's state and the ledger backlog, for /health

Files are replaced atomically (write, fsync, rename), so a reader never sees half of one.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from core.settings import env_path
from core.workspace import default_path

GATEWAY_DIR_ENV = "TRADEOFF_GATEWAY_DIR"


def runtime_dir(workspace_path: str | Path | None = None) -> Path:
    """The gateway folder of a workspace (created on demand)."""
    explicit = env_path(GATEWAY_DIR_ENV)
    path = explicit or Path(str(Path(workspace_path or default_path()).resolve()) + ".gateway")
    (path / "spool").mkdir(parents=True, exist_ok=True)
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

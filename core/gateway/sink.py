"""Where a worker puts the ledger rows of each answered request: the sink interface.

The request path calls ``append(rows)`` and answers only after it returns: the rows are then in
the store's spool (:mod:`core.spend.spool`, the same one every ledger writer uses) and survive
the worker being killed. The spool runs with ``sync="kernel"``: the segment is fsync-ed when it
is closed (every ``rotate_s``, on the worker's timer off the event loop), not per request (an
fsync costs twice the gateway's overhead budget). Committing to the store happens off the
request path, in batches, by whichever process flushes the spool directory
(:class:`core.gateway.agent.StoreAgent` through :class:`core.spend.writer.LedgerWriter`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import orjson

from core.spend.spool import Spool


class CallSink(Protocol):
    def append(self, rows: list[dict]) -> None:
        """Make ``rows`` durable (returns when they would survive this process dying)."""

    def tick(self) -> None:
        """Called every ~0.25 s: seal what is due so the committer sees it."""

    def close(self) -> None:
        """Seal everything (on shutdown)."""


def _json_default(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot spool {type(value).__name__}")


def encode(rows: list[dict]) -> bytes:
    """JSON lines, as :meth:`core.spend.writer.LedgerWriter.commit_spooled` reads them."""
    return b"".join(orjson.dumps(r, default=_json_default) + b"\n" for r in rows)


class SpoolSink:
    def __init__(self, spool_dir: str | Path, rotate_rows: int = 500, rotate_s: float = 0.5):
        self.spool = Spool(spool_dir, max_rows=rotate_rows, sync="kernel")
        self.rotate_s = rotate_s

    def append(self, rows: list[dict]) -> None:
        self.spool.append(encode(rows), len(rows))

    def tick(self) -> None:
        self.spool.rotate_if_due(self.rotate_s)

    def close(self) -> None:
        self.spool.close()

    @property
    def rows_appended(self) -> int:
        return self.spool.rows_appended


class NullSink:
    """Keeps nothing (a library user who turned the ledger off)."""

    rows_appended = 0

    def append(self, rows: list[dict]) -> None:
        self.rows_appended += len(rows)

    def tick(self) -> None:
        return None

    def close(self) -> None:
        return None


def open_sink(spool_dir: str | Path) -> CallSink:
    """The sink every gateway worker and library router writes through: the workspace's spool
    directory on this machine (``Location.spool_dir``)."""
    return SpoolSink(spool_dir)

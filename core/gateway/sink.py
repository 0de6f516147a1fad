"""Where a worker puts the ledger rows of each answered request: the sink interface.

The request path calls ``append(rows)`` and answers only after it returns: the rows are then
durable (they survive the worker being killed). Committing to the store happens off the request
path, in batches (:class:`core.gateway.agent.StoreAgent`). Today's sink is the local spool
(:mod:`core.gateway.spool`); a store with its own durable writer replaces :func:`open_sink`'s
body and nothing else.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from core.gateway.spool import SpoolWriter


class CallSink(Protocol):
    def append(self, rows: list[dict]) -> None:
        """Make ``rows`` durable (returns when they would survive this process dying)."""

    def tick(self) -> None:
        """Called every ~0.25 s: seal what is due so the committer sees it."""

    def close(self) -> None:
        """Seal everything (on shutdown)."""


class SpoolSink:
    def __init__(self, runtime: Path, rotate_rows: int = 500, rotate_s: float = 0.5):
        self.writer = SpoolWriter(runtime / "spool", rotate_rows, rotate_s)

    def append(self, rows: list[dict]) -> None:
        self.writer.append(rows)

    def tick(self) -> None:
        self.writer.rotate_if_due()

    def close(self) -> None:
        self.writer.close()

    @property
    def rows_appended(self) -> int:
        return self.writer.rows_appended


class NullSink:
    """Keeps nothing (a library user who turned the ledger off)."""

    rows_appended = 0

    def append(self, rows: list[dict]) -> None:
        self.rows_appended += len(rows)

    def tick(self) -> None:
        return None

    def close(self) -> None:
        return None


def open_sink(runtime: Path) -> CallSink:
    """The sink every gateway worker and library router writes through."""
    return SpoolSink(runtime)

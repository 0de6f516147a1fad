"""Experiment events from the workers to the store agent: feedback and shadow pairs.

Workers append events (one JSON line each) to their own segment of ``<runtime>/events``, a spool
like the ledger's (:mod:`core.spend.spool`), before answering (a feedback is "recorded" once it is
there); the store agent takes the closed segments and the orphans of killed workers, commits
their rows in one write and deletes them (:func:`take_events`).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import orjson

from core.gateway.sink import encode
from core.spend.spool import Spool, claimed

EVENTS_DIR = "events"


class EventWriter:
    def __init__(self, runtime: Path, rotate_s: float = 0.5):
        self.spool = Spool(runtime / EVENTS_DIR, sync="kernel")
        self.rotate_s = rotate_s

    def append(self, row: dict) -> None:
        self.spool.append(encode([row]), 1)

    def tick(self) -> None:
        self.spool.rotate_if_due(self.rotate_s)

    def close(self) -> None:
        self.spool.close()


def _rows(path: Path) -> list[dict]:
    out = []
    for line in path.read_bytes().splitlines():
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:  # a torn last line: never acknowledged
            continue
    return out


@contextlib.contextmanager
def take_events(runtime: Path, max_segments: int = 200) -> Iterator[list[dict]]:
    """The waiting events; their segments are deleted when the ``with`` body succeeds."""
    spool = Spool(runtime / EVENTS_DIR)
    with claimed(spool.pending()[:max_segments]) as mine:
        rows = [r for path in mine for r in _rows(path)]
        yield rows
        for path in mine:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

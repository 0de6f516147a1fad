"""Experiment events from the workers to the store agent: feedback and shadow pairs.

Workers append events (one JSON line each) to their own file in ``<runtime>/events`` before
answering (a feedback is "recorded" once it is there); the store agent takes the sealed files,
commits their rows in one write and deletes them (:func:`take_events`). The files live beside
the call spool and work the same way, so a killed worker's events are taken over too.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from core.gateway.spool import SpoolWriter, claim_segments

EVENTS_DIR = "events"


class EventWriter:
    def __init__(self, runtime: Path):
        self.writer = SpoolWriter(runtime / EVENTS_DIR)

    def append(self, row: dict) -> None:
        self.writer.append([row])

    def tick(self) -> None:
        self.writer.rotate_if_due()

    def close(self) -> None:
        self.writer.close()


@contextlib.contextmanager
def take_events(runtime: Path, max_rows: int = 20_000) -> Iterator[list[dict]]:
    """The waiting events; deleted when the ``with`` body succeeds, kept for the next try if not."""
    claim = claim_segments(runtime / EVENTS_DIR, max_rows)
    ok = False
    try:
        yield claim.rows if claim.paths else []
        ok = True
    finally:
        if claim.paths:
            claim.release(committed=ok)

"""A live run's journal: every finished call is on disk before it counts as done.

The runner writes its calls to the workspace in bulk (a batch every half second), which is what
keeps a call's bookkeeping near a millisecond; the journal is what makes that safe. Each
finished call (its ``run_calls`` row and its ledger rows) is appended to a JSON-lines file beside
the workspace as soon as it arrives, before the progress counts it, and written through to the
operating system (it survives the process being killed; ``sync`` adds an fsync against power
loss, done at each bulk write). When the run's batches are all in the workspace the journal is
deleted; when the process died first, the next attempt of the run replays it (idempotently: a
call id is stored once) before asking for anything::

    journal = RunJournal.open(ws, "run-1")      # None for an in-memory workspace
    journal.append(call_row, ledger_rows)      # one line, written through
    replay(ws, "run-1")                        # a journal left by a killed attempt -> workspace

Like the workspace tables, the journal never holds a key: call rows are redacted before they
are written (:mod:`core.live.execute`).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd

from core.workspace import Workspace


def journal_dir(ws: Workspace) -> Path | None:
    """On this machine's disk: ``runs/`` inside an embedded workspace, beside the spool in team
    mode; None for a throwaway (``:memory:``) workspace."""
    if ws.location.temporary:
        return None
    if ws.path is not None:
        return ws.path / "runs"
    spool = ws.location.spool_dir
    return spool.with_name(spool.name + ".runs")


def journal_path(ws: Workspace, run_id: str) -> Path | None:
    folder = journal_dir(ws)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
    return None if folder is None else folder / f"{safe}.jsonl"


def _encode(value):
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return {"$ts": value.isoformat()}
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot journal a {type(value).__name__}")


def _decode(obj: dict):
    if set(obj) == {"$ts"}:
        return dt.datetime.fromisoformat(obj["$ts"])
    return obj


class RunJournal:
    """The append-only journal of one run attempt (see the module docstring)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held for the whole run

    @classmethod
    def open(cls, ws: Workspace, run_id: str) -> RunJournal | None:
        path = journal_path(ws, run_id)
        return None if path is None else cls(path)

    def append(self, call: dict, ledger_rows: list[dict]) -> None:
        """One finished call, handed to the operating system before this returns."""
        line = json.dumps({"call": call, "ledger": ledger_rows}, default=_encode,
                          allow_nan=True, separators=(",", ":"))
        self._fh.write(line + "\n")
        self._fh.flush()

    def sync(self) -> None:
        """fsync: the journal also survives a power loss (called at each bulk write, from the
        writer's thread: each line was already flushed by ``append``)."""
        os.fsync(self._fh.fileno())

    def close(self, remove: bool) -> None:
        """Close; ``remove`` once every call it holds is in the workspace."""
        self._fh.close()
        if remove:
            self.path.unlink(missing_ok=True)


def read(path: Path) -> tuple[list[dict], list[dict]]:
    """The call rows and ledger rows of a journal, in the order they arrived. A last line cut
    short by a kill in the middle of a write is skipped (its call had not counted yet)."""
    calls: list[dict] = []
    ledger: list[dict] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                entry = json.loads(line, object_hook=_decode)
            except json.JSONDecodeError:
                continue
            calls.append(entry["call"])
            ledger.extend(entry["ledger"])
    return calls, ledger


def replay(ws: Workspace, run_id: str) -> int:
    """Write the calls of a journal left by a killed attempt into the workspace, then delete
    it; returns how many calls it held (0 when there was none)."""
    from core.live.store import write_calls

    path = journal_path(ws, run_id)
    if path is None or not path.exists():
        return 0
    calls, ledger = read(path)
    if calls or ledger:
        write_calls(ws, pd.DataFrame(calls), pd.DataFrame(ledger))
    path.unlink(missing_ok=True)
    return len(calls)


__all__ = ["RunJournal", "journal_dir", "journal_path", "read", "replay"]

"""The call spool: rows appended to a local file before the client gets its answer.

A worker appends each answered request's ledger rows to its open segment with one ``write``
(``spool/<pid>-<id>.open``, locked with ``flock`` while the worker lives). Written to the kernel,
a row survives the worker being killed the next instant. Every ``rotate_s`` seconds or
``rotate_rows`` rows a timer thread seals the segment (fsync, rename to ``.ready``; appends go to
the next one meanwhile), so a machine crash loses at most the last unsealed fraction of a second.

A flusher (:mod:`core.gateway.flusher`) commits sealed segments to the ledger and deletes them.
A segment still ``.open`` whose lock is free belongs to a worker that died: the flusher claims it.
A torn last line (a worker killed in the middle of a write, before it answered) is skipped.
Rows carry their ``call_id``, and the ledger skips ids it already has, so a segment committed
twice (a flusher killed between commit and delete) still counts once.

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> w = SpoolWriter(d); w.append([{"call_id": "a", "cost_usd": 0.5}]); w.close()
>>> claim = claim_segments(d); claim.rows
[{'call_id': 'a', 'cost_usd': 0.5}]
>>> claim.release(committed=True); claim_segments(d).rows
[]
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson

OPEN, READY = ".open", ".ready"


def _json_default(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot spool {type(value).__name__}")


def encode(rows: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r, default=_json_default) + b"\n" for r in rows)


class SpoolWriter:
    """One worker's appender. Thread-safe; ``append`` returns once the rows are in the file."""

    def __init__(self, directory: str | Path, rotate_rows: int = 500, rotate_s: float = 0.5):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.rotate_rows = rotate_rows
        self.rotate_s = rotate_s
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._rows = 0
        self._opened = 0.0
        self.rows_appended = 0

    def _open(self) -> None:
        # Locked under a name no flusher looks at, then renamed: an unlocked .open file is
        # always a dead worker's.
        stem = self.directory / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._fd = os.open(stem.with_suffix(".new"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._path = stem.with_suffix(OPEN)
        os.rename(stem.with_suffix(".new"), self._path)
        self._rows, self._opened = 0, time.monotonic()

    def _detach(self) -> tuple[int, Path, int] | None:
        """Take the open segment away from appenders (under the lock: no I/O but the swap)."""
        if self._fd is None:
            return None
        detached = (self._fd, self._path, self._rows)
        self._fd = self._path = None
        return detached

    @staticmethod
    def _seal(detached: tuple[int, Path, int] | None) -> None:
        """fsync and publish a detached segment (outside the lock: appends go on meanwhile).
        It stays locked until closed, so no flusher takes it for an orphan half-way."""
        if detached is None:
            return
        fd, path, rows = detached
        try:
            if rows:
                os.fsync(fd)
                os.rename(path, path.with_suffix(READY))
            else:
                os.unlink(path)
        finally:
            os.close(fd)

    def append(self, rows: list[dict]) -> None:
        data = encode(rows)
        with self._lock:
            if self._fd is None:
                self._open()
            os.write(self._fd, data)
            self._rows += len(rows)
            self.rows_appended += len(rows)

    def rotate_if_due(self) -> None:
        """Seal the open segment if it is older than ``rotate_s`` or has ``rotate_rows`` rows
        (call it on a timer, off the event loop: sealing fsyncs)."""
        with self._lock:
            due = self._fd is not None and self._rows and (
                self._rows >= self.rotate_rows or time.monotonic() - self._opened >= self.rotate_s)
            detached = self._detach() if due else None
        self._seal(detached)

    def close(self) -> None:
        with self._lock:
            detached = self._detach()
        self._seal(detached)


def read_rows(data: bytes) -> list[dict]:
    """The complete lines of a segment (a torn last line is left out)."""
    rows = []
    for line in data.split(b"\n")[:-1]:
        if line:
            with contextlib.suppress(orjson.JSONDecodeError):
                rows.append(orjson.loads(line))
    return rows


def _locked(path: Path) -> int | None:
    """An fd of ``path`` holding its exclusive lock, or None (gone, or someone holds it)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def claim_orphans(directory: Path) -> int:
    """Seal the open segments of dead workers (their lock is free); returns how many."""
    claimed = 0
    for path in directory.glob(f"*{OPEN}"):
        fd = _locked(path)
        if fd is None:
            continue
        try:
            if path.exists():
                os.rename(path, path.with_suffix(READY))
                claimed += 1
        finally:
            os.close(fd)
    return claimed


@dataclass
class Claim:
    """Sealed segments held (locked) by one flusher until it commits or gives them back."""

    paths: list[Path] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    orphans: int = 0  # open segments of dead workers sealed on the way

    def release(self, committed: bool) -> None:
        """Delete the segments (their rows are in the ledger) or leave them for next time."""
        for path, fd in zip(self.paths, self.fds):
            if committed:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            os.close(fd)
        self.paths, self.fds = [], []


def claim_segments(directory: str | Path, max_rows: int | None = None) -> Claim:
    """Sealed segments, oldest first, locked, with their rows (at least one segment, then up to
    ``max_rows`` rows). The caller commits the rows, then ``release(committed=True)``."""
    directory = Path(directory)
    orphans = claim_orphans(directory)

    def age(p: Path) -> int:
        try:
            return p.stat().st_mtime_ns
        except OSError:
            return 0

    claim = Claim(orphans=orphans)
    for path in sorted(directory.glob(f"*{READY}"), key=age):
        if max_rows is not None and claim.rows and len(claim.rows) >= max_rows:
            break
        fd = _locked(path)
        if fd is None:
            continue
        try:
            with open(path, "rb") as handle:
                rows = read_rows(handle.read())
        except FileNotFoundError:  # committed and deleted by another flusher meanwhile
            os.close(fd)
            continue
        claim.paths.append(path)
        claim.fds.append(fd)
        claim.rows.extend(rows)
    return claim


def backlog(directory: str | Path) -> tuple[int, int]:
    """(segments, bytes) waiting in the spool, open ones included."""
    n = size = 0
    for path in Path(directory).iterdir():
        if path.suffix in (OPEN, READY):
            with contextlib.suppress(OSError):
                size += path.stat().st_size
                n += 1
    return n, size

"""A per-process, append-only spool of ledger rows on a local disk (used by :mod:`core.spend.writer`).

The one spool of the product: :class:`core.spend.writer.LedgerWriter` (live runs, the library)
and the gateway's workers (:mod:`core.gateway.sink`) append to it, and one flusher commits it
(:meth:`core.spend.writer.LedgerWriter.commit_spooled`: re-flushing adds nothing, orphans of
killed processes are adopted).

Rows are appended to the process's current *segment* (JSON lines, ``<id>.open``); when
:meth:`Spool.append` returns they survive the death of the process. How much more depends on
``sync``:

* ``"fsync"`` (default): the file is ``fsync``-ed before ``append`` returns, so a row also
  survives a crash of the machine (on a disk that honours fsync). Threads appending at once
  share one fsync (group commit).
* ``"kernel"`` (the gateway's request path): ``append`` returns once the kernel has the bytes;
  the segment is fsync-ed when it is closed, at most ``rotate_s`` later (:meth:`rotate_if_due`,
  on a timer off the event loop). An fsync costs 4 ms at the median here (measured), twice the
  gateway's whole overhead budget per request; a killed worker still loses nothing it answered.

A segment is closed (renamed ``<id>.jsonl``) after ``max_rows`` rows or when it is rotated; a
flusher then commits closed segments to the store and deletes them.

A writer holds an exclusive ``flock`` on its open segment, so another process can tell a live
segment from the orphan of a killed one (whose lock the OS released): :meth:`pending` lists
closed segments and orphans. A torn last line (a crash in the middle of a write, never
acknowledged) is skipped when the segment is read.
"""
from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

if os.name == "nt":  # pragma: no cover - not exercised on this machine
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

OPEN, CLOSED, REJECTED, CREATING = ".open", ".jsonl", ".rejected", ".creating"


@dataclass
class _Segment:
    path: Path
    fd: int
    rows: int = 0
    size: int = 0
    opened: float = 0.0


class Spool:
    """The segments of one spool directory, and this process's current one."""

    def __init__(self, directory: str | os.PathLike, max_rows: int = 500, sync: str = "fsync"):
        if sync not in ("fsync", "kernel"):
            raise ValueError(f"sync must be 'fsync' or 'kernel', not {sync!r}")
        self.dir = Path(directory)
        self.max_rows = max_rows
        self.sync = sync
        self.rows_appended = 0
        self._lock = threading.Lock()  # the current segment
        self._sync_lock = threading.Lock()  # one fsync at a time, shared by waiting appenders
        self._current: _Segment | None = None
        self._seq = 0
        self._synced = 0
        self._host = socket.gethostname().replace("-", "")[:20] or "host"

    # -- writing -----------------------------------------------------------------------------
    def append(self, payload: bytes, rows: int) -> None:
        """Append ``rows`` JSON lines; returns once they are on disk."""
        if not payload:
            return
        with self._lock:
            seg = self._current or self._open()
            try:
                written = os.write(seg.fd, payload)
                if written < len(payload):  # rare: a short write, finish it
                    view = memoryview(payload)[written:]
                    while view:
                        view = view[os.write(seg.fd, view):]
            except OSError:
                os.ftruncate(seg.fd, seg.size)  # no torn line before later ones
                raise
            seg.rows += rows
            seg.size += len(payload)
            self.rows_appended += rows
            self._seq += 1
            seq = self._seq
        if self.sync == "kernel":
            return  # rotate_if_due closes (and fsyncs) the segment off the request path
        with self._sync_lock:
            if self._synced >= seq:
                return  # another thread's fsync (or a rotation) covered these rows
            with self._lock:
                fd, upto = (self._current.fd if self._current else None), self._seq
            if fd is not None:
                os.fsync(fd)
            self._synced = max(self._synced, upto)
        if rows and self._current is not None and self._current.rows >= self.max_rows:
            self.rotate()

    def _open(self) -> _Segment:
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{self._host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # created under another suffix and locked before it is renamed: a flusher never takes
        # a fresh, still unlocked segment for the orphan of a dead writer
        creating = self.dir / (name + CREATING)
        fd = os.open(creating, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if not _try_lock(fd):  # cannot happen for a fresh name; refuse rather than share
            os.close(fd)
            raise OSError(f"cannot lock the new spool segment {creating}")
        path = self.dir / (name + OPEN)
        os.rename(creating, path)
        if self.sync == "fsync":  # the new file's name is durable before any row is acknowledged
            _fsync_dir(self.dir)
        self._current = _Segment(path, fd, opened=time.monotonic())
        return self._current

    def rotate(self) -> None:
        """Close the current segment (if it holds rows) so a flusher can commit it. Appends go
        on into a new segment meanwhile: only the swap holds the append lock, not the fsync."""
        with self._sync_lock:
            with self._lock:
                seg = self._current
                if seg is None or seg.rows == 0:
                    return
                self._current = None
                upto = self._seq
            try:  # still locked: no flusher takes it for an orphan half-way
                os.fsync(seg.fd)
                os.rename(seg.path, seg.path.with_suffix(CLOSED))
                if self.sync == "kernel":  # its name was not made durable when it was opened
                    _fsync_dir(self.dir)
            finally:
                _unlock(seg.fd)
                os.close(seg.fd)
            self._synced = max(self._synced, upto)

    def rotate_if_due(self, max_age_s: float) -> bool:
        """Rotate when the current segment is ``max_age_s`` old or full (call on a timer)."""
        rows, age = self.current_rows()
        if rows and (age >= max_age_s or rows >= self.max_rows):
            self.rotate()
            return True
        return False

    def current_rows(self) -> tuple[int, float]:
        """Rows in the open segment and its age in seconds."""
        with self._lock:
            seg = self._current
            return (seg.rows, time.monotonic() - seg.opened) if seg else (0, 0.0)

    def close(self) -> None:
        """Rotate, and forget the current segment (a later append opens a new one)."""
        self.rotate()
        with self._lock:
            seg, self._current = self._current, None
        if seg is not None:  # empty: nothing was acknowledged in it
            _unlock(seg.fd)
            os.close(seg.fd)
            seg.path.unlink(missing_ok=True)

    # -- reading -----------------------------------------------------------------------------
    def pending(self) -> list[Path]:
        """Segments to commit, oldest first: closed ones and orphans of dead writers."""
        if not self.dir.is_dir():
            return []
        mine = self._current.path if self._current else None
        out = []
        for path in sorted(self.dir.iterdir()):
            if path.suffix == CLOSED or path.suffix == OPEN and path != mine and _orphaned(path):
                out.append(path)
        return out

    def backlog(self) -> dict:
        """What waits to reach the store: segments, rows, age of the oldest (s), rejected."""
        files = self.pending() if self.dir.is_dir() else []
        rows = sum(_count_lines(p) for p in files)
        current, _ = self.current_rows()
        now = time.time()
        oldest = min((p.stat().st_mtime for p in files if p.exists()), default=None)
        rejected = len(list(self.dir.glob("*" + REJECTED))) if self.dir.is_dir() else 0
        return {"segments": len(files), "rows": rows + current, "rows_unflushed_open": current,
                "oldest_s": None if oldest is None else round(max(0.0, now - oldest), 3),
                "rejected_segments": rejected}


@contextlib.contextmanager
def claimed(paths: list[Path]):
    """Exclusive locks on the segments no other flusher holds; yields the claimed paths."""
    held = []
    try:
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # flushed and deleted by another process meanwhile
            if _try_lock(fd) and path.exists():
                held.append((path, fd))
            else:
                os.close(fd)
        yield [p for p, _ in held]
    finally:
        for _, fd in held:
            _unlock(fd)
            os.close(fd)


def _orphaned(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        if _try_lock(fd):
            _unlock(fd)
            return True
        return False
    finally:
        os.close(fd)


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def _fsync_dir(directory: Path) -> None:
    if os.name == "nt":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

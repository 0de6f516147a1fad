"""Write transactions that never surface "locked" or a commit race: one mechanism for all.

Every write to a workspace runs through :func:`run_write`: ``body(cur)`` inside ``BEGIN ...
COMMIT``, re-run as a whole with jittered backoff when the commit lost a race, and, on the
embedded store, under a cross-process :class:`FileLock` held from BEGIN to COMMIT. Reads never
take the lock and never wait.

What can fail at COMMIT (measured, duckdb 1.5.5 + DuckLake d8a1881e; ``duckdb.TransactionException``
or, in SQLite's rollback-journal mode, the base ``duckdb.Error``):

* PostgreSQL catalog: ``Transaction conflict - attempting to ...`` when two transactions touched
  the same thing (updated or deleted rows of one data file or of one table's inlined rows,
  altered a table the other wrote, created the same name). Two inserts into one table are not a
  conflict: DuckLake re-commits them itself.
* SQLite catalog: ``database is locked`` whenever another process committed between this
  transaction's first catalog read and its commit (SQLite will not upgrade a stale WAL read
  snapshot, and ``busy_timeout`` does not apply). Any two overlapping write transactions collide,
  plain inserts included; hence the file lock: with it, writers never overlap (0 failures
  measured).

Anything else (bad SQL, a NOT NULL violation, a full disk) is raised at once.
"""
from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from core.errors import StoreUnavailableError

T = TypeVar("T")

RETRYABLE = ("Transaction conflict", "database is locked", "database table is locked")


def is_retryable(exc: BaseException) -> bool:
    """A commit race: the same transaction, run again from the start, can succeed.

    >>> is_retryable(duckdb.TransactionException("Failed to commit: ... database is locked"))
    True
    >>> is_retryable(duckdb.ConstraintException("NOT NULL constraint failed: ledger.ts"))
    False
    """
    return isinstance(exc, duckdb.Error) and any(m in str(exc) for m in RETRYABLE)


class FileLock:
    """An exclusive lock shared by every thread and process that opens the same ``path``.

    ``flock`` on POSIX (``msvcrt`` on Windows), released by the OS when the process dies, so a
    killed writer never leaves it held. Re-entrant within a thread; threads of one process queue
    on a thread lock first (``flock`` is per open file, so two descriptors of one process would
    also exclude each other, but the thread lock keeps the depth count right).
    """

    def __init__(self, path: str | os.PathLike, timeout: float = 300.0):
        self.path = Path(path)
        self.timeout = timeout
        self._thread_lock = threading.RLock()
        self._fd: int | None = None
        self._depth = 0
        self.last_wait = 0.0

    def acquire(self) -> None:
        start = time.monotonic()
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise self._timeout_error()
        if self._depth:
            self._depth += 1
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            self._thread_lock.release()
            raise StoreUnavailableError(f"Cannot open the write lock {self.path}: {exc.strerror}") from None
        delay = 0.001
        while True:
            try:
                _lock_fd(fd)
                break
            except OSError:
                if time.monotonic() - start > self.timeout:
                    os.close(fd)
                    self._thread_lock.release()
                    raise self._timeout_error() from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        self.last_wait = time.monotonic() - start
        self._fd, self._depth = fd, 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            _unlock_fd(self._fd)
            os.close(self._fd)
            self._fd = None
        self._thread_lock.release()

    def _timeout_error(self) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"Another process kept the workspace's write lock ({self.path}) for more than "
            f"{self.timeout:.0f} s. Nothing was written; try again when it has finished (a large "
            "import or a migration), or stop the process that holds it.")

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


if os.name == "nt":  # pragma: no cover - not exercised on this machine
    import msvcrt

    def _lock_fd(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock_fd(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock_fd(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_fd(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def run_write(new_cursor: Callable[[], duckdb.DuckDBPyConnection],
              lock: contextlib.AbstractContextManager, body: Callable[[duckdb.DuckDBPyConnection], T],
              *, cur: duckdb.DuckDBPyConnection | None = None, attempts: int = 40,
              first_wait: float = 0.02, max_wait: float = 2.0,
              on_retry: Callable[[int, BaseException], None] | None = None) -> T:
    """Run ``body(cur)`` in one transaction, re-running all of it after a lost commit race.

    ``body`` must be safe to run again: everything the failed attempt did was rolled back
    (DuckLake also deletes the Parquet files it wrote). ``cur``: run on that connection (one
    holding temp tables the body reads; left open), else on a fresh one.
    """
    for attempt in range(1, attempts + 1):
        c = cur if cur is not None else new_cursor()
        try:
            with lock:
                c.execute("begin transaction")
                try:
                    result = body(c)
                    c.execute("commit")
                    return result
                except BaseException:
                    with contextlib.suppress(duckdb.Error):
                        c.execute("rollback")
                    raise
        except duckdb.Error as exc:
            if not is_retryable(exc) or attempt == attempts:
                raise
            if on_retry:
                on_retry(attempt, exc)
            # full jitter: losers of one race must not retry in step
            time.sleep(random.uniform(0, min(max_wait, first_wait * 2 ** attempt)))
        finally:
            if cur is None:
                c.close()
    raise AssertionError("unreachable")

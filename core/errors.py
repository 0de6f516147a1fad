"""Errors a user can act on.

Every failure caused by input (a bad file, an unknown model, a wrong key) is raised as an
:class:`InputError` whose message is written for the person who supplied the input: which file,
which row, which column, what was expected. Pages show ``str(err)``; the CLI prints it on one
line and exits non-zero. Stack traces are for bugs only.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One precise thing wrong with an input file.

    >>> str(Problem("evals.csv", 12, "score", "a number between 0 and 1", "abc"))
    "evals.csv, row 12, column 'score': expected a number between 0 and 1, got 'abc'"
    """

    source: str
    row: int | None  # 1-based data row (header excluded); None for whole-file problems
    column: str | None
    expected: str
    got: str | None = None

    def __str__(self) -> str:
        where = [self.source]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = ", ".join(where) + f": expected {self.expected}"
        if self.got is not None:
            got = self.got if len(self.got) <= 60 else self.got[:57] + "..."
            text += f", got '{got}'"
        return text


class InputError(ValueError):
    """Input the user must fix. Carries every problem found, not just the first."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = list(problems or [])
        self.headline = message
        super().__init__(self._render())

    def _render(self, limit: int = 20) -> str:
        if not self.problems:
            return self.headline
        lines = [f"{self.headline} ({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}):"]
        lines += [f"  - {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        return "\n".join(lines)

    def one_line(self) -> str:
        """The message on a single line, for the CLI's stderr."""
        if not self.problems:
            return self.headline
        first = "; ".join(str(p) for p in self.problems[:3])
        more = f" (+{len(self.problems) - 3} more)" if len(self.problems) > 3 else ""
        return f"{self.headline}: {first}{more}"


class StoreError(RuntimeError):
    """The workspace (the store) could not be opened, read or written: its catalog unreachable,
    unreadable, read-only, full. Not the user's input, and not a bug."""


class StoreUnavailableError(StoreError):
    """The store cannot be used now: its catalog cannot be reached, an old workspace cannot be
    converted, or a writer kept the write lock too long. The message says what happened and
    what to do; the CLI prints it and exits 3. Nothing already stored is lost."""


# The single-file releases raised this when another process held the file; the name stays for
# callers that catch it.
WorkspaceLockedError = StoreUnavailableError

# Functions that recognise a store failure in an exception of the store's library and word it
# (``core.workspace.faults`` registers its own when imported): this module imports no store.
_STORE_DESCRIBERS: list[Callable[[BaseException], str | None]] = []


def register_store_describer(fn: Callable[[BaseException], str | None]) -> None:
    """Add ``fn(exc) -> message or None`` to the rules :func:`describe` asks first."""
    if fn not in _STORE_DESCRIBERS:
        _STORE_DESCRIBERS.append(fn)


# DuckDB errors that mean the store itself failed (the file, the disk, a lock, memory), as
# opposed to a query that should not have been asked: matched by class name, so this module
# needs no import of the store's library.
_STORE_FAILURES = ("IOException", "PermissionException", "TransactionException",
                   "OutOfMemoryException", "SerializationException", "FatalException")


@dataclass(frozen=True)
class Failure:
    """What to tell a person about an error: ``kind`` is ``input`` (fix the input), ``store``
    (the workspace failed) or ``bug`` (unexpected: the traceback goes to the log or, with
    ``TRADEOFF_DEBUG=1``, to the screen; never to a user by default)."""

    kind: str
    message: str


def describe(exc: BaseException, workspace: object = None) -> Failure:
    """The one rule every surface (pages, the command line) uses to show an error.

    >>> describe(InputError("evals.csv: the file is empty")).message
    'evals.csv: the file is empty'
    >>> describe(PermissionError(13, "Permission denied", "data/workspace.duckdb.wal"),
    ...          workspace="data/workspace.duckdb").kind
    'store'
    >>> describe(FileNotFoundError(2, "No such file or directory", "evals.csv")).message
    'evals.csv: No such file or directory'
    >>> describe(KeyError("x")).message
    "Something went wrong (KeyError: 'x'); it is not your input."
    """
    where = f" {workspace}" if workspace is not None else ""
    if isinstance(exc, InputError):
        return Failure("input", str(exc))
    if isinstance(exc, StoreError):
        return Failure("store", _unsecret(str(exc)))
    for rule in _STORE_DESCRIBERS:
        message = rule(exc)
        if message:
            return Failure("store", message)
    name = type(exc).__name__
    first = _unsecret(str(exc).strip().splitlines()[0][:300]) if str(exc).strip() else name
    if type(exc).__module__.split(".")[0] in ("duckdb", "_duckdb") and name in _STORE_FAILURES:
        return Failure("store", f"The workspace{where} could not be read or written ({first}). "
                                "Nothing was changed; try again, or point TRADEOFF_STORE at "
                                "another workspace.")
    if isinstance(exc, OSError) and exc.strerror:
        target = str(exc.filename) if exc.filename is not None else None
        if workspace is not None and target and target.startswith(str(workspace)):
            return Failure("store", f"Tradeoff cannot use the workspace {target} "
                                    f"({exc.strerror}). Check its permissions and free space, "
                                    "or point TRADEOFF_STORE at another workspace.")
        return Failure("input", f"{target}: {exc.strerror}" if target else exc.strerror)
    return Failure("bug", f"Something went wrong ({name}: {first}); it is not your input.")


def _unsecret(text: str) -> str:
    """``text`` without a connection string's password (``password=...``, ``//user:pw@``).

    >>> _unsecret('connect "host=db password=s3cret" failed; postgresql://u:pw@db/x')
    'connect "host=db password=***" failed; postgresql://u:***@db/x'
    """
    text = re.sub(r"password=[^\s'\"]+", "password=***", text)
    return re.sub(r"(://[^:/@\s]+):[^@\s]+@", r"\1:***@", text)

"""Errors a user can act on.

Every failure caused by input (a bad file, an unknown model, a wrong key) is raised as an
:class:`InputError` whose message is written for the person who supplied the input: which file,
which row, which column, what was expected. Pages show ``str(err)``; the CLI prints it on one
line and exits non-zero. Stack traces are for bugs only.
"""
from __future__ import annotations

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


class StoreUnavailableError(RuntimeError):
    """The store cannot be used now: its catalog cannot be reached, an old workspace cannot be
    converted, or a writer kept the write lock too long. The message says what happened and
    what to do; the CLI prints it and exits 3. Nothing already stored is lost."""


# The single-file releases raised this when another process held the file; the name stays for
# callers that catch it.
WorkspaceLockedError = StoreUnavailableError

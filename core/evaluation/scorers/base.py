"""What every scorer shares: the expected answer, which rows it may score, and a vectorized
scoring loop that asks the scorer once per distinct (output, expected) pair.

A scorer follows scikit-learn's conventions: its parameters are its ``__init__`` arguments
(``get_params``), ``fit(evalset, rows)`` learns what it must from labeled rows (only the
similarity threshold does) and sets attributes ending in ``_``, and ``score(evalset, rows)``
returns :class:`Scores`. ``spec`` is its canonical text (``numeric:0.01``), ``version`` changes
whenever the same inputs could score differently, and ``check`` refuses, before anything runs,
an eval set it cannot apply to, naming the column and the rows.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from core.errors import InputError, Problem
from core.evaluation.evalset import EvalSet

MAX_LISTED = 20  # rows named in a refusal (the count says how many there are in all)


@dataclass(frozen=True)
class Scores:
    """A scorer's verdicts on ``[n_items, n_models]`` answers.

    ``score`` is 0..1 (NaN: not scored: no output, no expected answer, or a row outside the
    scorer's tasks); ``parsed`` is False where an output exists but could not be read by the
    scorer (it then scores 0 and is counted); ``detail`` is what the scorer read (the extracted
    choice, the number, the similarity, the first schema error) for display.
    """

    score: np.ndarray
    parsed: np.ndarray
    detail: np.ndarray

    @property
    def unparsed(self) -> np.ndarray:
        """Unparsed outputs per model (scored 0)."""
        return (~self.parsed & ~np.isnan(self.score)).sum(axis=0)


def expected_answers(evalset: EvalSet) -> tuple[np.ndarray, str | None]:
    """The expected answer per item and the column it comes from: ``reference`` when the eval
    set has one, else ``label``; (all None, None) when it has neither."""
    for column in ("reference", "label"):
        if column in evalset.items and evalset.items[column].notna().any():
            values = evalset.items[column].astype(object)
            return values.where(values.notna(), None).to_numpy(dtype=object), column
    return np.full(evalset.n_items, None, dtype=object), None


def model_texts(evalset: EvalSet, prefer: str = "output") -> np.ndarray:
    """Each model's answer text ``[n, m]``: the raw ``output`` first (or the parsed
    ``prediction`` first with ``prefer="prediction"``), the other where it is missing."""
    first, second = ((evalset.output, evalset.prediction) if prefer == "output"
                     else (evalset.prediction, evalset.output))
    return np.where(pd.isna(first), second, first).astype(object)


def item_problem(evalset: EvalSet, i: int, column: str, expected: str, got) -> Problem:
    """A problem with item ``i``: its file row where items are rows (wide, inputs-only
    layouts), and its item_id always."""
    row = i + 1 if evalset.format in ("wide", "inputs") else None
    item_id = evalset.items["item_id"].iloc[i]
    return Problem(evalset.name, row, column, f"{expected} (item_id {item_id})",
                   None if got is None else str(got))


def all_rows(evalset: EvalSet, rows) -> np.ndarray:
    return np.ones(evalset.n_items, dtype=bool) if rows is None else np.asarray(rows, dtype=bool)


class Scorer(ABC):
    """Base class: subclasses set ``kind``, ``version``, ``needs_expected`` and implement
    :meth:`score_pairs` (and :meth:`check_expected` when the expected answer has a form)."""

    kind: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    needs_expected: ClassVar[bool] = True
    reads: ClassVar[str] = "output"  # which model text comes first: "output" | "prediction"
    description: ClassVar[str] = ""

    # -- parameters (scikit-learn conventions) ------------------------------------------------
    def get_params(self) -> dict:
        return {}

    @property
    def spec(self) -> str:
        """The canonical spec: ``kind`` or ``kind:argument``."""
        return self.kind

    @property
    def label(self) -> str:
        """A short name for tables (the spec, unless it is long)."""
        return self.spec

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"

    # -- refusing before anything runs ---------------------------------------------------------
    def check(self, evalset: EvalSet, rows=None) -> None:
        """Raise InputError when this scorer cannot apply to ``rows`` of ``evalset``."""
        rows = all_rows(evalset, rows)
        if evalset.n_models == 0:
            raise InputError(f"{evalset.name}: no model outputs to score (an inputs-only eval set); "
                             "run it against models first")
        if not self.needs_expected:
            return
        expected, column = expected_answers(evalset)
        if column is None:
            raise InputError(
                f"{evalset.name}: the {self.kind} scorer compares each output with the expected "
                "answer, and the eval set has no 'reference' column (nor a 'label' column)",
                [Problem(evalset.name, None, "reference", "a column with the expected answer of "
                         "each item", "no such column")])
        given = rows & pd.notna(expected)
        if not given.any():
            raise InputError(f"{evalset.name}: no item of the chosen task has a {column}: "
                             f"the {self.kind} scorer has nothing to compare with",
                             [Problem(evalset.name, None, column, "an expected answer on the "
                                      "chosen task's items", "blank on every one")])
        problems = self.check_expected(evalset, expected, column, given)
        if problems:
            raise InputError(f"{evalset.name}: column '{column}' does not suit the {self.spec} "
                             f"scorer; nothing was scored", problems[:MAX_LISTED] + (
                                 [] if len(problems) <= MAX_LISTED else
                                 [Problem(evalset.name, None, column, f"{len(problems)} bad rows in "
                                          "all", None)]))

    def check_expected(self, evalset: EvalSet, expected: np.ndarray, column: str,
                       given: np.ndarray) -> list[Problem]:
        """Problems with the expected answers of the rows in ``given`` (none by default)."""
        return []

    # -- learning and scoring --------------------------------------------------------------------
    def fit(self, evalset: EvalSet, rows=None) -> Scorer:
        return self

    def score(self, evalset: EvalSet, rows=None) -> Scores:
        """Scores of every model on ``rows`` (a boolean mask of items; None = all)."""
        rows = all_rows(evalset, rows)
        n, m = evalset.n_items, evalset.n_models
        texts = model_texts(evalset, self.reads)
        expected, _ = expected_answers(evalset)
        if not self.needs_expected:
            expected = np.full(n, None, dtype=object)
        ref = np.broadcast_to(expected[:, None], (n, m))
        todo = rows[:, None] & pd.notna(texts) & (pd.notna(ref) | (not self.needs_expected))
        score = np.full((n, m), np.nan)
        parsed = np.ones((n, m), dtype=bool)
        detail = np.full((n, m), None, dtype=object)
        if todo.any():
            outs, refs = texts[todo], ref[todo]
            # One call per distinct (output, expected) pair: answers repeat a lot ("A", "B").
            pair_codes, uniques = pd.factorize(pd.Series(
                [f"{len(str(o))}\x00{o}\x00{r}" for o, r in zip(outs, refs)], dtype=object))
            _, first = np.unique(pair_codes, return_index=True)  # codes follow first appearance
            s, p, d = self.score_pairs(np.asarray(outs[first], dtype=object),
                                       np.asarray(refs[first], dtype=object))
            s, p = np.asarray(s, dtype=float), np.asarray(p, dtype=bool)
            score[todo] = np.where(p, s, 0.0)[pair_codes]
            parsed[todo] = p[pair_codes]
            detail[todo] = np.asarray(d, dtype=object)[pair_codes]
        return Scores(score, parsed, detail)

    @abstractmethod
    def score_pairs(self, outputs: np.ndarray, expected: np.ndarray):
        """(score, parsed, detail) arrays for distinct (output, expected) pairs."""

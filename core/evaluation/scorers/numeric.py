"""Numbers within a tolerance: the last number in the output against the expected number.

``numeric`` (equal), ``numeric:0.01`` (absolute tolerance), ``numeric:1%`` (relative to the
expected value). Thousands separators and a leading currency sign are read; "four" does not
parse and scores 0.

>>> NumericMatch(0.01).score_pairs(np.array(["The total is $1,234.005.", "four"], dtype=object),
...                                np.array(["1234", "4"], dtype=object))[:2]
(array([1., 0.]), array([ True, False]))
>>> NumericMatch(relative=0.01).spec, parse_number("1e3"), parse_number("n/a")
('numeric:1%', 1000.0, None)
"""
from __future__ import annotations

import re

import numpy as np

from core.errors import InputError
from core.evaluation.scorers.base import Scorer, item_problem

_NUMBER = re.compile(r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+−]?\.\d+")


def _to_float(text: str) -> float:
    return float(text.replace(",", "").replace("−", "-"))


def parse_number(text) -> float | None:
    """The whole cell as a number (``$1,234.5``, ``-3``, ``1e3``), else None."""
    if text is None:
        return None
    value = str(text).strip().lstrip("$€£").strip()
    match = _NUMBER.fullmatch(value)
    return _to_float(match.group(0)) if match else None


def last_number(text) -> float | None:
    """The last number written in a text (a final answer usually comes last), else None."""
    found = _NUMBER.findall(str(text)) if text is not None else []
    return _to_float(found[-1]) if found else None


class NumericMatch(Scorer):
    """1 when ``|output - expected| <= tolerance`` (absolute, or relative to |expected|)."""

    kind = "numeric"
    version = "1"
    description = "the last number in the output is within a tolerance of the expected number"

    def __init__(self, tolerance: float = 0.0, relative: float | None = None):
        if tolerance < 0 or (relative is not None and relative < 0):
            raise InputError("numeric: the tolerance must be zero or positive")
        self.tolerance = float(tolerance)
        self.relative = None if relative is None else float(relative)

    def get_params(self) -> dict:
        return {"tolerance": self.tolerance, "relative": self.relative}

    @classmethod
    def from_arg(cls, arg: str) -> NumericMatch:
        if not arg:
            return cls()
        text = arg.strip()
        try:
            value = float(text[:-1] if text.endswith("%") else text)
        except ValueError:
            raise InputError(f"numeric:{arg}: expected a tolerance such as numeric:0.01 (absolute) "
                             "or numeric:1% (relative)") from None
        return cls(relative=value / 100.0) if text.endswith("%") else cls(tolerance=value)

    @property
    def spec(self) -> str:
        if self.relative is not None:
            return f"numeric:{self.relative * 100:g}%"
        return f"numeric:{self.tolerance:g}" if self.tolerance else "numeric"

    def check_expected(self, evalset, expected, column, given):
        return [item_problem(evalset, i, column, "a number", expected[i])
                for i in np.flatnonzero(given) if parse_number(expected[i]) is None]

    def score_pairs(self, outputs, expected):
        got = np.array([last_number(o) for o in outputs], dtype=object)
        ref = np.array([parse_number(r) for r in expected], dtype=float)
        parsed = np.array([g is not None for g in got])
        value = np.where(parsed, got, np.nan).astype(float)
        allowed = (self.tolerance if self.relative is None else self.relative * np.abs(ref)) + 1e-12
        with np.errstate(invalid="ignore"):
            hit = (np.abs(value - ref) <= allowed + 1e-9 * np.abs(ref)).astype(float)
        return hit, parsed, np.array([None if g is None else f"{g:g}" for g in got], dtype=object)

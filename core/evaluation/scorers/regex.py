"""A regular expression the output must contain (Python syntax; ``(?i)`` ignores case).

>>> RegexMatch(r"(?i)\\brefund\\b").score_pairs(np.array(["Refund issued", "no"], dtype=object),
...                                            np.array([None, None], dtype=object))[0]
array([1., 0.])
"""
from __future__ import annotations

import re

import numpy as np

from core.errors import InputError
from core.evaluation.scorers.base import Scorer


class RegexMatch(Scorer):
    """1 when the pattern is found anywhere in the output, else 0. No expected answer needed."""

    kind = "regex"
    version = "1"
    needs_expected = False
    description = "the output contains a match of a regular expression"

    def __init__(self, pattern: str):
        if not pattern:
            raise InputError("regex: give a pattern, e.g. regex:^(yes|no)$")
        try:
            self.compiled_ = re.compile(pattern)
        except re.error as err:
            raise InputError(f"regex:{pattern}: not a valid regular expression ({err})") from None
        self.pattern = pattern

    def get_params(self) -> dict:
        return {"pattern": self.pattern}

    @classmethod
    def from_arg(cls, arg: str) -> RegexMatch:
        return cls(arg)

    @property
    def spec(self) -> str:
        return f"regex:{self.pattern}"

    def score_pairs(self, outputs, expected):
        found = [self.compiled_.search(str(o)) for o in outputs]
        hit = np.array([f is not None for f in found], dtype=float)
        return hit, np.ones(len(found), dtype=bool), np.array(
            [f.group(0)[:80] if f else None for f in found], dtype=object)

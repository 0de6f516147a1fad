"""Choice extraction: the option letter a reply names, against the expected letter.

Read, in order: a reply that is just a letter (``B``, ``(B)``, ``b.``, ``**B**``); a reply that
opens with one (``B) bat``, ``C. because``); a stated answer (``The answer is (B)``,
``Answer: C``, ``option D``); a single bracketed letter (``... so (A) it is``). Only the options in
play count: the letters up to the highest expected one (at least A-D), or those given with
``choice:ABCDE``. A reply naming none of them does not parse and scores 0.

>>> extract_choice("The answer is (B).", "ABCD"), extract_choice("c) bat", "ABCD")
('B', 'C')
>>> extract_choice("I do not know", "ABCD") is None, extract_choice("A\\n", "ABCD")
(True, 'A')
"""
from __future__ import annotations

import re

import numpy as np

from core.errors import InputError
from core.evaluation.scorers.base import Scorer, item_problem

_ALONE = re.compile(r"^[\s\*_\"'`\[\(]*([A-Za-z])[\s\*_\"'`\]\)\.:,;!]*$")
_LEADING = re.compile(r"^[\s\*_\"'`]*\(?([A-Za-z])(?:\)|\.|:|\s*-)\s")
_STATED = re.compile(r"(?i:\b(?:answer|choice|option)\b)[\s\*_]*(?i:is)?[\s\*_]*(?i:option)?"
                     r"[\s\*_:=]*[\(\[]?([A-Z])(?![A-Za-z])")
_BRACKETED = re.compile(r"\(([A-Z])\)")


def expected_letter(value) -> str | None:
    """An expected answer as one upper-case letter (``b``, ``(B)``, ``B.``), else None."""
    match = _ALONE.match(str(value)) if value is not None else None
    return match.group(1).upper() if match else None


def extract_choice(text, letters: str) -> str | None:
    """The option letter ``text`` answers with, among ``letters``; None when it names none."""
    if text is None:
        return None
    body = str(text).strip()
    for pattern in (_ALONE, _LEADING):
        match = pattern.match(body)
        if match and match.group(1).upper() in letters:
            return match.group(1).upper()
    for match in _STATED.finditer(body):
        if match.group(1) in letters:
            return match.group(1)
    bracketed = {m for m in _BRACKETED.findall(body) if m in letters}
    return bracketed.pop() if len(bracketed) == 1 else None


class ChoiceMatch(Scorer):
    """1 when the extracted option letter is the expected one, 0 otherwise."""

    kind = "choice"
    version = "1"
    description = "the option letter the reply names ('The answer is (B)' -> B) is the expected one"

    def __init__(self, letters: str | None = None):
        if letters is not None:
            letters = "".join(dict.fromkeys(letters.strip().upper()))
            if not letters or not letters.isalpha():
                raise InputError(f"choice:{letters}: give the option letters, e.g. choice:ABCDE")
        self.letters = letters

    def get_params(self) -> dict:
        return {"letters": self.letters}

    @classmethod
    def from_arg(cls, arg: str) -> ChoiceMatch:
        return cls(arg or None)

    @property
    def spec(self) -> str:
        return f"choice:{self.letters}" if self.letters else "choice"

    def check_expected(self, evalset, expected, column, given):
        problems = []
        for i in np.flatnonzero(given):
            letter = expected_letter(expected[i])
            if letter is None or (self.letters and letter not in self.letters):
                problems.append(item_problem(
                    evalset, i, column, "one option letter" + (f" of {self.letters}" if self.letters
                                                              else " such as B"), expected[i]))
        return problems

    def options(self, expected) -> str:
        """The letters in play: the given ones, else A up to the highest expected (at least D)."""
        if self.letters:
            return self.letters
        found = [expected_letter(r) for r in expected]
        top = max([f for f in found if f] + ["D"])
        return "".join(chr(c) for c in range(ord("A"), ord(top) + 1))

    def score_pairs(self, outputs, expected):
        letters = self.options(expected)
        got = np.array([extract_choice(o, letters) for o in outputs], dtype=object)
        ref = np.array([expected_letter(r) for r in expected], dtype=object)
        parsed = np.array([g is not None for g in got])
        return (got == ref).astype(float) * parsed, parsed, got

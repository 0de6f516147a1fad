"""Exact match under the one normalisation rule (:mod:`core.evaluation.answers`).

>>> from core.evaluation.evalset import EvalSet
>>> es = EvalSet.from_arrays("t", ["m"], score=[[np.nan], [np.nan]],
...                          output=[["  STRASSE "], ["Paris!"]],
...                          items=pd.DataFrame({"item_id": ["1", "2"], "reference": ["Straße", "Paris"]}))
>>> ExactMatch().score(es).score.ravel().tolist()
[1.0, 0.0]
"""
from __future__ import annotations

import numpy as np

from core.evaluation.answers import normalize_answers
from core.evaluation.scorers.base import Scorer


class ExactMatch(Scorer):
    """1 when the answer equals the expected answer after normalisation (case folding, Unicode
    NFKC, whitespace collapsed), else 0. Every answer parses."""

    kind = "exact"
    version = "1"
    reads = "prediction"
    description = "the answer equals the expected one (case, Unicode width and spaces ignored)"

    def score_pairs(self, outputs, expected):
        out, ref = normalize_answers(outputs), normalize_answers(expected)
        hit = np.array([o is not None and o == r for o, r in zip(out, ref)], dtype=float)
        return hit, np.ones(len(out), dtype=bool), out

"""chrF (character n-gram F-score, ``sacrebleu``'s implementation) against the expected answer.

``chrf`` scores each output from 0 to 1 (chrF / 100); ``chrf:0.5`` passes at 0.5 and above.

>>> round(float(ChrF().score_pairs(np.array(["the cat sat"], dtype=object),
...                                np.array(["the cat sat"], dtype=object))[0][0]), 3)
1.0
"""
from __future__ import annotations

from importlib.metadata import version as package_version

import numpy as np

from core.errors import InputError
from core.evaluation.scorers.base import Scorer


class ChrF(Scorer):
    """chrF of the output against the expected answer, graded or passed at a threshold."""

    kind = "chrf"
    description = "character n-gram F-score (chrF) with the expected answer"

    def __init__(self, threshold: float | None = None):
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise InputError(f"chrf:{threshold:g}: the threshold is a share from 0 to 1")
        self.threshold = None if threshold is None else float(threshold)

    @property
    def version(self) -> str:  # the package computes the number: its version is part of ours
        return f"1+sacrebleu-{package_version('sacrebleu')}"

    def get_params(self) -> dict:
        return {"threshold": self.threshold}

    @classmethod
    def from_arg(cls, arg: str) -> ChrF:
        if not arg:
            return cls()
        try:
            value = float(arg)
        except ValueError:
            raise InputError(f"chrf:{arg}: expected a threshold from 0 to 1, e.g. chrf:0.5") from None
        return cls(value)

    @property
    def spec(self) -> str:
        return "chrf" if self.threshold is None else f"chrf:{self.threshold:g}"

    def score_pairs(self, outputs, expected):
        from sacrebleu.metrics import CHRF

        metric = CHRF()
        raw = np.array([metric.sentence_score(str(o), [str(r)]).score / 100.0
                        for o, r in zip(outputs, expected)])
        score = raw if self.threshold is None else (raw >= self.threshold).astype(float)
        return score, np.ones(len(raw), dtype=bool), np.array([f"chrF {v:.3f}" for v in raw],
                                                               dtype=object)

"""Reference similarity: the cosine of an output's and the expected answer's embeddings (the
``wordllama`` model shipped in its wheel, offline; :mod:`core.evaluation.embeddings`), passed at a
threshold.

``similarity:0.8`` passes at cosine 0.8 and above. ``similarity`` alone calibrates the threshold on
the rows that already carry a human score (the file's ``score``): the cut that agrees best with
those scores, with its agreement measured by 5-fold cross-validation (held-out, never in-sample)
in ``calibration_``.

>>> best_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([False, False, True, True]))
0.5
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import InputError, Problem
from core.evaluation.scorers.base import Scorer, all_rows, expected_answers, model_texts

MIN_CALIBRATION = 10  # labeled rows needed to calibrate a threshold
FOLDS = 5


def pair_similarity(outputs, expected) -> np.ndarray:
    """Cosine similarity of each output with its expected answer (each distinct text embedded once)."""
    from core.evaluation.embeddings import embed

    outputs = [None if o is None else str(o) for o in outputs]
    expected = [None if r is None else str(r) for r in expected]
    codes, uniques = pd.factorize(pd.Series(outputs + expected, dtype=object))
    vectors = embed(list(uniques))
    if not len(outputs):
        return np.zeros(0)
    a, b = codes[:len(outputs)], codes[len(outputs):]
    sims = np.einsum("ij,ij->i", vectors[np.maximum(a, 0)], vectors[np.maximum(b, 0)])
    return np.where((a < 0) | (b < 0), 0.0, sims).astype(float)


def best_threshold(similarity: np.ndarray, passed: np.ndarray) -> float:
    """The cut on similarity that agrees with ``passed`` most often (midway between two observed
    values; the lowest such cut on ties)."""
    order = np.argsort(similarity, kind="stable")
    s, y = np.asarray(similarity, dtype=float)[order], np.asarray(passed, dtype=bool)[order]
    n = len(s)
    # Cut k puts rows k.. at "pass": right = fails below the cut + passes at or above it.
    fails_below = np.concatenate([[0], np.cumsum(~y)])
    passes_above = y.sum() - np.concatenate([[0], np.cumsum(y)])
    right = fails_below + passes_above
    valid = np.ones(n + 1, dtype=bool)
    valid[1:n] = s[1:] > s[:-1]  # a cut between equal values is no cut
    k = int(np.flatnonzero(valid)[np.argmax(right[valid])])
    if k == 0:
        return float(s[0] - 1e-6)
    if k == n:
        return float(s[-1] + 1e-6)
    return float((s[k - 1] + s[k]) / 2)


def heldout_agreement(similarity: np.ndarray, passed: np.ndarray, folds: int = FOLDS,
                      seed: int = 0) -> float:
    """Share of rows whose pass/fail a threshold calibrated on the *other* folds gets right."""
    n = len(similarity)
    fold = np.random.default_rng(seed).permutation(n) % folds
    right = 0
    for f in range(folds):
        test = fold == f
        if not test.any() or test.all():
            continue
        cut = best_threshold(similarity[~test], passed[~test])
        right += int(((similarity[test] >= cut) == passed[test]).sum())
    return right / n


class Similarity(Scorer):
    """1 when the cosine similarity with the expected answer reaches the threshold."""

    kind = "similarity"
    version = "1+wordllama-256"
    description = "embedding similarity with the expected answer reaches a threshold"

    def __init__(self, threshold: float | None = None):
        if threshold is not None and not -1.0 <= threshold <= 1.0:
            raise InputError(f"similarity:{threshold:g}: the threshold is a cosine, from -1 to 1")
        self.threshold = None if threshold is None else float(threshold)

    def get_params(self) -> dict:
        return {"threshold": self.threshold}

    @classmethod
    def from_arg(cls, arg: str) -> Similarity:
        if not arg:
            return cls()
        try:
            value = float(arg)
        except ValueError:
            raise InputError(f"similarity:{arg}: expected a threshold such as similarity:0.8, or "
                             "'similarity' alone to calibrate it on rows with a human score") from None
        return cls(value)

    @property
    def spec(self) -> str:
        cut = getattr(self, "threshold_", self.threshold)
        return "similarity" if cut is None else f"similarity:{cut:.4g}"

    def check(self, evalset, rows=None) -> None:
        super().check(evalset, rows)
        if self.threshold is None:
            self.fit(evalset, rows)  # refuses when there is nothing to calibrate on

    def fit(self, evalset, rows=None) -> Similarity:
        if self.threshold is not None:
            self.threshold_ = self.threshold
            self.calibration_ = None
            return self
        rows = all_rows(evalset, rows)
        texts = model_texts(evalset, self.reads)
        expected, column = expected_answers(evalset)
        ref = np.broadcast_to(expected[:, None], texts.shape)
        labeled = rows[:, None] & pd.notna(texts) & pd.notna(ref) & ~np.isnan(evalset.score)
        passed = evalset.score[labeled] >= 0.5
        if labeled.sum() < MIN_CALIBRATION or passed.all() or not passed.any():
            raise InputError(
                f"{evalset.name}: 'similarity' without a threshold calibrates one on outputs that "
                f"already have a human score, and needs at least {MIN_CALIBRATION} of them with "
                f"both passes and fails; found {int(labeled.sum())} "
                f"({int(passed.sum())} passing). Give a threshold instead, e.g. similarity:0.8",
                [Problem(evalset.name, None, "score", f"at least {MIN_CALIBRATION} scored outputs "
                         f"with a {column or 'reference'}", str(int(labeled.sum())))])
        sims = pair_similarity(texts[labeled], ref[labeled])
        self.threshold_ = round(best_threshold(sims, passed), 4)
        self.calibration_ = {"rows": int(labeled.sum()), "passing": int(passed.sum()),
                             "heldout_agreement": heldout_agreement(sims, passed),
                             "folds": FOLDS}
        return self

    def score_pairs(self, outputs, expected):
        if not hasattr(self, "threshold_"):
            raise InputError("similarity: fit the scorer (calibrate its threshold) before scoring")
        sims = pair_similarity(outputs, expected)
        return ((sims >= self.threshold_).astype(float), np.ones(len(sims), dtype=bool),
                np.array([f"cosine {s:.3f}" for s in sims], dtype=object))

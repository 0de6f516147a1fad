"""The one rule for comparing two answers, used everywhere an answer meets a label or another
answer: scoring an uploaded eval set, scoring a live run, agreement between models, the
ensemble's vote, the cache's label check.

Two answers are the same when their *normalised* forms are equal. Normalising is Unicode's
caseless matching (NFKC, then case folding, then NFKC again), with outer whitespace removed and
inner runs of whitespace collapsed to one space::

>>> normalize_answer("  Straße ") == normalize_answer("STRASSE")
True
>>> normalize_answer("ＡＢＣ\u00a0 d"), normalize_answer("Cafe\u0301") == normalize_answer("Café")
('abc d', True)
>>> normalize_answer("   ") is None, normalize_answer(None) is None
(True, True)

Arrays are normalised per distinct value (dictionary codes), so a million answers drawn from a
few labels cost a few Python calls, not a million:

>>> normalize_answers(np.array([" Blue ", None, "BLUE"], dtype=object)).tolist()
['blue', None, 'blue']
"""
from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd


def normalize_answer(text) -> str | None:
    """The comparable form of one answer (None for a missing or blank one)."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    value = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", str(text)).casefold())
    value = " ".join(value.split())
    return value or None


def normalize_answers(values) -> np.ndarray:
    """:func:`normalize_answer` over an array of any shape (object array out, None = missing)."""
    arr = np.asarray(values, dtype=object)
    flat = arr.reshape(-1)
    codes, uniques = pd.factorize(pd.Series(flat, dtype=object), use_na_sentinel=True)
    table = np.array([normalize_answer(u) for u in uniques] + [None], dtype=object)
    return table[codes].reshape(arr.shape)  # code -1 (missing) picks the trailing None


def answer_matrix(prediction: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Comparable answers ``[n, m]``: the normalised prediction, else the normalised output text
    (RouterBench ships only outputs such as ``'A\\n'``); None where a model gave neither."""
    base = np.where(pd.isna(prediction), output, prediction)
    return normalize_answers(base)

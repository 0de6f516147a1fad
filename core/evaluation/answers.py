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

import re
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


# -- what an answer concludes ------------------------------------------------------------------
# Two answers agree when they conclude the same thing, whatever words carry it: "The answer is
# (B)", "B." and "b" all choose option B; "#### 1,234" and "so she pays 1234." both end on 1234.
# Agreement between models (cascade signals, the ensemble's vote) compares these conclusions.
_OPTION_LINE = re.compile(r"^\s*\(?([A-Ea-e])[\)\.:]\s+\S", re.M)
_NUMBER = re.compile(r"(?<![A-Za-z\d])-?\d[\d,]*\.?\d*")  # not inside a word or code ("C5")
_FINAL_NUMBER = re.compile(r"^[$€£(]*-?\d[\d,]*\.?\d*[%)]*[.!]?$")
_CODE_COMMENT = re.compile(r"#.*|//.*")
CONCLUSION_KINDS = ("choice", "number", "text")


def options_in(prompt) -> str:
    """Option letters the last question of a prompt offers ('A) ...', 'B. ...', '(C) ...' lines).

    >>> options_in("Which one?\\nA) red\\nB) blue\\nAnswer:")
    'AB'
    """
    if prompt is None or (isinstance(prompt, float) and np.isnan(prompt)):
        return ""
    last = str(prompt).strip().split("\n\n")[-1]
    return "".join(sorted({m.upper() for m in _OPTION_LINE.findall(last)}))


def extract_choice(text, letters: str = "ABCDE") -> str | None:
    """The option letter an answer chooses, upper case; None when it names none.

    A bare letter must end the answer or be followed by punctuation or a line break ("A chart
    of ..." is an article, not option A); otherwise "answer/option/choice (is) X" is read.

    >>> [extract_choice(t) for t in ["B", "b", "B.", "(B)", "B)\\n", "The answer is (B)", "Answer: b"]]
    ['B', 'B', 'B', 'B', 'B', 'B', 'B']
    >>> extract_choice("A chart of the results") is None
    True
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    body = unicodedata.normalize("NFKC", str(text)).strip()
    allowed = f"[{letters.upper()}{letters.lower()}]"
    found = re.match(rf"^\(?({allowed})\)?(?:[\.\):,]|\s*$|\s*\n)", body)
    if found:
        return found.group(1).upper()
    found = re.search(rf"(?:answer|option|choice)\s*(?:is|:)?\s*:?\s*\(?({allowed})\)?(?![A-Za-z])",
                      body, re.I)
    return found.group(1).upper() if found else None


def extract_number(text) -> str | None:
    """The final number of a free-form answer, canonical (no separators, no trailing zeros).

    >>> extract_number("#### 1,234"), extract_number("So she pays $12.50."), extract_number("none")
    ('1234', '12.5', None)
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    body = unicodedata.normalize("NFKC", str(text))
    if "####" in body:  # GSM8K's marker of the final answer
        body = body.split("####")[-1]
    found = _NUMBER.findall(body)
    if not found:
        return None
    try:
        value = float(found[-1].replace(",", "").rstrip("."))
    except ValueError:
        return None
    return str(int(value)) if value == int(value) else repr(round(value, 6))


def ends_on_number(text) -> bool:
    """Whether an answer ends on a number (its last word, or what follows GSM8K's ``####``), as
    worked solutions do; a label that merely holds a digit ("C5", "not-C5") does not.

    >>> [ends_on_number(t) for t in ["#### 1,234", "So she pays $12.50.", "C5", "not-C5", "42"]]
    [True, True, False, False, True]
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return False
    body = unicodedata.normalize("NFKC", str(text)).split("####")[-1].split()
    return bool(body) and bool(_FINAL_NUMBER.match(body[-1]))


def normalize_text(text) -> str | None:
    """A short text, label or code line compared on its words: the one normalisation rule
    (:func:`normalize_answer`) with code comments and punctuation removed.

    >>> normalize_text("Paris."), normalize_text("  PARIS ") , normalize_text("x = 1  # set x")
    ('paris', 'paris', 'x 1')
    """
    value = normalize_answer(_CODE_COMMENT.sub("", str(text)) if text is not None and not (
        isinstance(text, float) and np.isnan(text)) else None)
    if value is None:
        return None
    value = " ".join(re.sub(r"[\W_]+", " ", value).split())
    return value or None


def conclusion_kind(prompts, answers) -> str:
    """How an eval set's answers conclude: ``choice`` when at least 80% of prompts offer lettered
    options, ``number`` when at least 80% of answers end on a number (:func:`ends_on_number`),
    else ``text``.

    >>> conclusion_kind(["Q?\\nA) x\\nB) y"], [["B"]]), conclusion_kind(["2+2?"], [["4"], ["#### 4"]])
    ('choice', 'number')
    """
    prompts = [p for p in list(prompts)[:500]]
    if prompts and np.mean([len(options_in(p)) >= 2 for p in prompts]) >= 0.8:
        return "choice"
    sample = [a for a in np.asarray(answers, dtype=object)[:300].ravel()
              if a is not None and not (isinstance(a, float) and np.isnan(a))]
    if sample and np.mean([ends_on_number(a) for a in sample]) >= 0.8:
        return "number"
    return "text"


def conclusions(answers, kind: str, prompts=None) -> np.ndarray:
    """What each answer concludes (object array of the answers' shape, None = none), under
    ``kind`` (:data:`CONCLUSION_KINDS`). Distinct answers are read once.

    >>> conclusions(np.array([["The answer is (B)", "b"], ["C.", None]], dtype=object), "choice").tolist()
    [['B', 'B'], ['C', None]]
    """
    if kind not in CONCLUSION_KINDS:
        raise ValueError(f"unknown conclusion kind {kind!r}; expected one of {CONCLUSION_KINDS}")
    read = {"choice": extract_choice, "number": extract_number, "text": normalize_text}[kind]
    arr = np.asarray(answers, dtype=object)
    flat = arr.reshape(-1)
    codes, uniques = pd.factorize(pd.Series(flat, dtype=object), use_na_sentinel=True)
    table = np.array([read(u) for u in uniques] + [None], dtype=object)
    return table[codes].reshape(arr.shape)

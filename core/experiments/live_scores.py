"""Scorers as a quality source for live experiments: each served answer checked as it leaves.

Production traffic has no expected answer, so only the scorers that need none apply: ``json``
(the answer is valid JSON), ``json-schema:...`` (it conforms to a schema) and ``regex:...`` (it
matches a pattern). An experiment names them when it is created; a gateway worker scores each
answer it serves in the experiment (both arms) and spools the scores as events, which the store
agent appends to ``experiment_scores`` (:func:`core.experiments.live.record_scores`). A request's quality is then its feedback where it has
some, else the mean of its scorers' verdicts (:mod:`core.experiments.live_data`), and every
figure says how many requests each source gave.

    >>> specs = live_scorer_specs(["json", "regex:^OK"])
    >>> specs
    ('json', 'regex:^OK')
    >>> score_answer(scorers_for(specs), '{"a": 1}')
    {'json': 1.0, 'regex:^OK': 0.0}
    >>> live_scorer_specs(["exact"])
    Traceback (most recent call last):
    core.errors.InputError: Scorer 'exact' compares each answer with an expected answer, which live traffic does not have: use json, json-schema:SCHEMA or regex:PATTERN
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from core.errors import InputError
from core.evaluation.scorers import Scorer, parse_scorer

LIVE_FORMS = "json, json-schema:SCHEMA or regex:PATTERN"


def live_scorer_specs(specs: Iterable[str]) -> tuple[str, ...]:
    """The canonical specs of scorers that can judge live answers (a schema file is read now and
    kept inline, so the gateway never depends on the file); refuses any other."""
    out = []
    for spec in specs or ():
        if not str(spec).strip():
            continue
        scorer = parse_scorer(str(spec), also=())
        if scorer.needs_expected:
            raise InputError(f"Scorer '{spec}' compares each answer with an expected answer, which "
                             f"live traffic does not have: use {LIVE_FORMS}")
        if scorer.spec not in out:
            out.append(scorer.spec)
    return tuple(out)


@lru_cache(maxsize=64)
def scorers_for(specs: tuple[str, ...]) -> tuple[Scorer, ...]:
    """The scorers of canonical specs (parsed once per set of specs)."""
    return tuple(parse_scorer(s) for s in specs)


def score_answer(scorers: Iterable[Scorer], text: str | None) -> dict[str, float]:
    """Each scorer's verdict (0..1) on one answer; an answer that cannot be read scores 0."""
    if text is None:
        return {}
    out = {}
    for scorer in scorers:
        score, parsed, _ = scorer.score_pairs(np.array([text], dtype=object), np.array([None], dtype=object))
        out[scorer.spec] = float(score[0]) if bool(parsed[0]) else 0.0
    return out

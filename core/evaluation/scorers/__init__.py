"""Deterministic scorers: how an open-ended answer becomes a score, one class per rule.

``SCORERS`` maps a spec's kind to its class (the explicit registry); :func:`parse_scorer` turns a
spec into a scorer, refusing a bad one with what is wrong::

    >>> parse_scorer("numeric:0.01")
    NumericMatch('numeric:0.01')
    >>> parse_scorer("choice").spec, parse_scorer("regex:^yes$").spec
    ('choice', 'regex:^yes$')
    >>> parse_scorer("fuzzy")
    Traceback (most recent call last):
    core.errors.InputError: Unknown scorer 'fuzzy': expected one of exact, numeric[:TOL], regex:PATTERN, choice[:LETTERS], json, json-schema:FILE, similarity[:THRESHOLD], chrf[:THRESHOLD]

The LLM judge makes live calls, so it lives in :mod:`core.live.judge`; applying a mix of scorers
to an eval set and storing the scores is :mod:`core.evaluation.rescore` (deterministic ones) and
:mod:`core.live.scoring` (any, the judge included).
"""
from __future__ import annotations

from core.errors import InputError
from core.evaluation.scorers.base import Scorer, Scores, expected_answers, model_texts
from core.evaluation.scorers.choice import ChoiceMatch
from core.evaluation.scorers.chrf import ChrF
from core.evaluation.scorers.exact import ExactMatch
from core.evaluation.scorers.json_schema import JsonSchemaMatch
from core.evaluation.scorers.json_valid import JsonValid
from core.evaluation.scorers.numeric import NumericMatch
from core.evaluation.scorers.regex import RegexMatch
from core.evaluation.scorers.similarity import Similarity

SCORERS: dict[str, type[Scorer]] = {
    "exact": ExactMatch,
    "numeric": NumericMatch,
    "regex": RegexMatch,
    "choice": ChoiceMatch,
    "json": JsonValid,
    "json-schema": JsonSchemaMatch,
    "similarity": Similarity,
    "chrf": ChrF,
}
SPEC_FORMS = {"exact": "exact", "numeric": "numeric[:TOL]", "regex": "regex:PATTERN",
              "choice": "choice[:LETTERS]", "json": "json", "json-schema": "json-schema:FILE",
              "similarity": "similarity[:THRESHOLD]", "chrf": "chrf[:THRESHOLD]"}
ALIASES = {"exact-match": "exact", "normalized": "exact", "normalised": "exact", "number": "numeric",
           "jsonschema": "json-schema", "schema": "json-schema", "chr-f": "chrf"}


def parse_scorer(spec: str, also: tuple[str, ...] = ()) -> Scorer:
    """The scorer a spec names (``kind`` or ``kind:argument``). ``also`` lists spec forms the
    caller handles itself (named in the message for an unknown kind)."""
    text = (spec or "").strip()
    kind, _, arg = text.partition(":")
    kind = ALIASES.get(kind.strip().lower(), kind.strip().lower())
    if kind not in SCORERS:
        forms = ", ".join(list(SPEC_FORMS.values()) + list(also))
        raise InputError(f"Unknown scorer '{text}': expected one of {forms}" if text else
                         f"No scorer given: expected one of {forms}")
    cls = SCORERS[kind]
    if kind in ("exact", "json") and arg.strip():
        raise InputError(f"{text}: the {kind} scorer takes no argument")
    if kind == "exact":
        return cls()
    return cls.from_arg(arg)


__all__ = ["SCORERS", "SPEC_FORMS", "Scorer", "Scores", "expected_answers", "model_texts",
           "parse_scorer"]

"""JSON validity: the output is a JSON object or array (a Markdown code fence around it is
allowed, as models often add one).

>>> JsonValid().score_pairs(np.array(['```json\\n{"a": 1}\\n```', "{'a': 1}"], dtype=object),
...                         np.array([None, None], dtype=object))[:2]
(array([1., 0.]), array([ True, False]))
"""
from __future__ import annotations

import json
import re

import numpy as np

from core.evaluation.scorers.base import Scorer

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
NOT_JSON = object()  # read_json could not read the text


def read_json(text):
    """The JSON value of a text (fences stripped), or :data:`NOT_JSON`."""
    body = str(text)
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        return json.loads(body)
    except ValueError:
        return NOT_JSON


class JsonValid(Scorer):
    """1 when the output parses as a JSON object or array; otherwise it is unparsed (0)."""

    kind = "json"
    version = "1"
    needs_expected = False
    description = "the output is a JSON object or array"

    @classmethod
    def from_arg(cls, arg: str) -> JsonValid:
        return cls()

    def score_pairs(self, outputs, expected):
        values = [read_json(o) for o in outputs]
        ok = np.array([v is not NOT_JSON and isinstance(v, (dict, list)) for v in values])
        detail = np.array([None if k else "not a JSON object or array" for k in ok], dtype=object)
        return ok.astype(float), ok, detail

"""JSON-schema conformance (the ``jsonschema`` package, the schema's own draft).

``json-schema:FILE`` reads the schema from a file; ``json-schema:{...}`` takes it inline. An
invalid schema is refused before anything runs; an output that is not JSON does not parse
(scored 0); JSON that breaks the schema scores 0 with the first error as the detail.

>>> s = JsonSchemaMatch({"type": "object", "required": ["label"]})
>>> s.score_pairs(np.array(['{"label": "x"}', '{"other": 1}', 'hello'], dtype=object),
...               np.array([None] * 3, dtype=object))[:2]
(array([1., 0., 0.]), array([ True,  True, False]))
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from core.errors import InputError, Problem
from core.evaluation.scorers.base import Scorer
from core.evaluation.scorers.json_valid import NOT_JSON, read_json


def _schema_error(source: str, err) -> InputError:
    where = "/".join(str(p) for p in err.path) or "(top level)"
    return InputError(f"{source}: not a valid JSON schema", [
        Problem(source, None, None, f"a valid JSON schema at {where}", err.message)])


class JsonSchemaMatch(Scorer):
    """1 when the output is JSON that conforms to the schema."""

    kind = "json-schema"
    version = "1"
    needs_expected = False
    description = "the output is JSON that conforms to a JSON schema"

    def __init__(self, schema: dict, source: str = "schema"):
        from jsonschema import exceptions, validators

        if not isinstance(schema, dict):
            raise InputError(f"{source}: a JSON schema is a JSON object, got {type(schema).__name__}")
        cls = validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except exceptions.SchemaError as err:
            raise _schema_error(source, err) from None
        self.schema = schema
        self.validator_ = cls(schema)

    def get_params(self) -> dict:
        return {"schema": self.schema}

    @classmethod
    def from_arg(cls, arg: str) -> JsonSchemaMatch:
        text = (arg or "").strip()
        if not text:
            raise InputError("json-schema: name the schema file (json-schema:schema.json) or give "
                             "the schema inline")
        source = "inline schema"
        if not text.startswith("{"):
            path = Path(text)
            if not path.is_file():
                raise InputError(f"json-schema:{text}: no such file")
            source, text = path.name, path.read_text(encoding="utf-8", errors="replace")
        try:
            schema = json.loads(text)
        except ValueError as err:
            raise InputError(f"{source}: not JSON ({err}); a JSON schema is a JSON object") from None
        return cls(schema, source)

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.schema, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def spec(self) -> str:
        return "json-schema:" + json.dumps(self.schema, sort_keys=True, separators=(",", ":"))

    @property
    def label(self) -> str:
        return f"json-schema ({self.digest})"

    def score_pairs(self, outputs, expected):
        score, parsed, detail = [], [], []
        for text in outputs:
            value = read_json(text)
            error = None if value is NOT_JSON else next(iter(self.validator_.iter_errors(value)), None)
            score.append(1.0 if value is not NOT_JSON and error is None else 0.0)
            parsed.append(value is not NOT_JSON)
            detail.append("not JSON" if value is NOT_JSON else None if error is None else
                          f"{'/'.join(map(str, error.path)) or '(top)'}: {error.message}"[:200])
        return np.array(score), np.array(parsed, dtype=bool), np.array(detail, dtype=object)

"""The usage-export formats the ledger imports, one module each, the dispatcher, and detection.

``generic`` is any CSV or JSON-lines file with recognisable columns; ``openai``, ``anthropic`` and
``litellm`` are the providers' own exports (see each module for the fields they document).
``auto`` (the default) reads the format from the file's own field names (:func:`detect_format`),
so a LiteLLM log is never taken for a generic file by mistake. Adding a format means one module
with ``parse_json(doc, label)`` and ``parse_csv(raw, label)`` returning a frame of
:data:`~core.spend.imports.staging.STAGE_COLUMNS`, one line in :data:`PARSERS` and its signature
in :data:`SIGNATURES`.
"""
from __future__ import annotations

import json
from pathlib import Path

from core.errors import InputError
from core.evaluation.csv_io import sniff_delimiter, sniff_text
from core.spend.imports import anthropic, generic, litellm, openai
from core.spend.imports.staging import is_json, load_json, read_csv_text, stage_frame

PARSERS = {"openai": openai, "anthropic": anthropic, "litellm": litellm}
FORMATS = ("auto", "generic", *PARSERS)
LABELS = {"auto": "Detect from the file", "generic": "Generic CSV / JSONL", "openai": "OpenAI",
          "anthropic": "Anthropic", "litellm": "LiteLLM"}
# A format is recognised when a row (or JSON result) has all the fields of one of its
# signatures; the first format matching wins, and none matching means generic.
SIGNATURES = {
    "litellm": [{"request_id", "spend"}],
    "openai": [{"start_time", "num_model_requests"}, {"start_time_iso", "num_model_requests"},
               {"start_time", "amount", "line_item"}, {"start_time", "amount_value"},
               {"start_time_iso", "amount_value"}],
    "anthropic": [{"starting_at", "uncached_input_tokens"}, {"starting_at", "amount", "currency"},
                  {"starting_at", "amount"}],
}


def _match(fields: set[str]) -> str:
    for fmt, signatures in SIGNATURES.items():
        if any(sig <= fields for sig in signatures):
            return fmt
    return "generic"


def _json_fields(doc) -> set[str]:
    """Field names of a JSON page, bucket, result or record (the first of each level)."""
    fields: set[str] = set()
    node = doc[0] if isinstance(doc, list) and doc else doc
    for _ in range(3):  # page -> bucket -> result
        if not isinstance(node, dict):
            break
        fields |= set(node)
        child = node.get("data") if isinstance(node.get("data"), list) else node.get("results")
        if child is None and isinstance(node.get("logs"), list):
            child = node["logs"]
        if not isinstance(child, list) or not child:
            break
        node = child[0]
    return fields


def detect_format(path: Path, label: str) -> tuple[str, object | None]:
    """The format of a usage file from its own field names, and its parsed JSON (None for CSV).

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "logs.csv"
    >>> _ = path.write_text("request_id,startTime,model,spend\\nr1,2026-01-05,gpt-4o,0.01\\n")
    >>> detect_format(path, "logs.csv")[0]
    'litellm'
    """
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if not head.strip():
        raise InputError(f"{label}: the file is empty")
    if is_json(head):
        first = head.lstrip().split(b"\n", 1)[0]
        try:
            json.loads(first)  # one object per line: the first line is enough to tell
        except json.JSONDecodeError:
            doc = load_json(path, label)
            return _match(_json_fields(doc)), doc
        return _match(_json_fields(json.loads(first))), None
    delim = sniff_delimiter(head, label)
    header = head.decode("utf-8", "replace").lstrip("\ufeff").splitlines()[0]
    fields = {c.strip().strip('"').strip() for c in header.split(delim)}
    return _match(fields), None


def stage_file(cur, path: Path, label: str, fmt: str, doc=None, typed: bool = True) -> list[str]:
    """Create the temp view ``stage_src`` (STAGE_COLUMNS as text + ``_row``); returns notes.

    The generic CSV/JSONL reader is a view over DuckDB's reader (the file is read once, by the
    validating pass); the structured formats are flattened in Python (they are aggregated
    buckets or log rows, small) and registered as a table. ``doc`` is the file's JSON when
    :func:`detect_format` already parsed it; ``typed=False`` reads a generic CSV as text (every
    bad value then reportable, after a typed read failed).
    """
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if not head.strip():
        raise InputError(f"{label}: the file is empty")
    json_file = is_json(head)
    # CSV: refused here when it is not UTF-8 text (UTF-16, a spreadsheet, NUL bytes), as eval sets are
    delim = None if json_file else sniff_text(path, label)
    if fmt == "generic":
        return generic.stage(cur, path, label, json_lines=json_file, typed=typed, delim=delim)
    parser = PARSERS[fmt]
    if json_file:
        frame = parser.parse_json(doc if doc is not None else load_json(path, label), label)
    else:
        frame = parser.parse_csv(read_csv_text(cur, path, label, delim), label)
    stage_frame(cur, frame)
    return []

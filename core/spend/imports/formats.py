"""The usage-export formats the ledger imports, one module each, and the dispatcher.

``generic`` is any CSV or JSON-lines file with recognisable columns; ``openai``, ``anthropic`` and
``litellm`` are the providers' own exports (see each module for the fields they document).
Adding a format means one module with ``parse_json(doc, label)`` and ``parse_csv(raw, label)``
returning a frame of :data:`~core.spend.imports.staging.STAGE_COLUMNS`, and one line here.
"""
from __future__ import annotations

from pathlib import Path

from core.errors import InputError
from core.spend.imports import anthropic, generic, litellm, openai
from core.spend.imports.staging import is_json, load_json, read_csv_text, stage_frame

PARSERS = {"openai": openai, "anthropic": anthropic, "litellm": litellm}
FORMATS = ("generic", *PARSERS)


def stage_file(cur, path: Path, label: str, fmt: str) -> list[str]:
    """Create the temp view ``stage_src`` (STAGE_COLUMNS as text + ``_row``); returns notes.

    The generic CSV/JSONL reader is a view over DuckDB's reader (the file is read once, by the
    validating pass); the structured formats are flattened in Python (they are aggregated
    buckets or log rows, small) and registered as a table.
    """
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head.strip():
        raise InputError(f"{label}: the file is empty")
    if fmt == "generic":
        return generic.stage(cur, path, label, json_lines=is_json(head))
    parser = PARSERS[fmt]
    if is_json(head):
        frame = parser.parse_json(load_json(path, label), label)
    else:
        frame = parser.parse_csv(read_csv_text(cur, path, label), label)
    stage_frame(cur, frame)
    return []

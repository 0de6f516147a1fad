"""Staging a usage or cost export: every format becomes one relation with :data:`STAGE_COLUMNS`.

Every staged value is text (validated and typed afterwards in one bulk SQL pass by
:mod:`core.spend.imports.importer`); ``_row`` is the 1-based data row (or JSON result) for
messages. Each format lives in its own module (``generic``, ``openai``, ``anthropic``,
``litellm``) and is listed once in :data:`FORMATS`.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from core.errors import InputError
from core.evaluation.csv_io import refuse

STAGE_COLUMNS = ["_row", "ts", "model", "provider", "task", "project", "cost_usd", "input_tokens",
                 "cached_input_tokens", "cache_write_tokens", "output_tokens", "requests",
                 "latency_ms", "status", "cache_hit", "source", "experiment", "variant", "tags",
                 "natural_id", "kind", "cost_basis",
                 # how the row is priced: the part of cache_write_tokens written for one hour,
                 # the service tier ('batch'...) and the context window the report states
                 "cache_write_1h_tokens", "service_tier", "context_window"]
# The columns whose text identifies a row without a request id (its content hash, see the
# importer). Frozen: ledgers written by earlier releases hold ids hashed over exactly these, so
# re-importing a file they imported must hash the same. New staged columns are not added here.
HASHED_COLUMNS = ["ts", "model", "provider", "task", "project", "cost_usd", "input_tokens",
                  "cached_input_tokens", "cache_write_tokens", "output_tokens", "requests",
                  "latency_ms", "status", "cache_hit", "source", "experiment", "variant", "tags",
                  "kind", "cost_basis"]


def is_json(head: bytes) -> bool:
    return head.lstrip()[:1] in (b"{", b"[")


def load_json(path: Path, label: str):
    text = path.read_text(encoding="utf-8-sig")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    pages = []
    for i, line in enumerate(text.splitlines(), 1):  # JSON lines: one page/bucket/record each
        if line.strip():
            try:
                pages.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{label}, line {i}: expected JSON ({exc.msg})") from None
    return pages


def read_csv_text(cur, path: Path, label: str, delim: str | None = None) -> pd.DataFrame:
    quoted = "'" + str(path).replace("'", "''") + "'"
    sep = "" if delim is None else ", delim='" + delim.replace("'", "''") + "'"
    try:
        return cur.execute(f"select * from read_csv({quoted}, all_varchar=true, header=true{sep},"
                           " quote='\"', escape='\"', strict_mode=true)").df()
    except Exception as exc:  # every broken row named, as for eval sets
        raise refuse(path, label, delim or ",", str(exc)) from None


def stage_frame(cur, frame: pd.DataFrame) -> None:
    """Register a parsed frame as the temp view ``stage_src``."""
    frame = frame.copy()
    for col in STAGE_COLUMNS[1:]:
        if col not in frame:
            frame[col] = None
        frame[col] = frame[col].map(lambda v: None if v is None or (isinstance(v, float) and v != v)
                                    else str(v)).astype(object)
    frame["_row"] = range(1, len(frame) + 1) if "_row" not in frame else frame["_row"]
    # Registered, not copied: the validating pass reads it once; the importer unregisters it.
    cur.register("stage_frame", frame[STAGE_COLUMNS])
    select = ", ".join(["cast(_row as bigint) as _row"] + [f"cast({c} as varchar) as {c}"
                                                           for c in STAGE_COLUMNS[1:]])
    cur.execute(f"create or replace temp view stage_src as select {select} from stage_frame")


def usage_results(doc, label: str, time_key: str) -> list[tuple[object, dict]]:
    """(bucket start, result) pairs from a page, a list of pages/buckets, or one bucket."""
    docs = doc if isinstance(doc, list) else [doc]
    out = []
    for d in docs:
        if not isinstance(d, dict):
            raise InputError(f"{label}: expected JSON objects (pages or buckets), got {type(d).__name__}")
        buckets = d["data"] if isinstance(d.get("data"), list) else [d]
        for b in buckets:
            if "results" in b and isinstance(b["results"], list):
                for r in b["results"]:
                    out.append((b.get(time_key), r if isinstance(r, dict) else {}))
            else:
                out.append((b.get(time_key), b))
    if not out:
        raise InputError(f"{label}: no usage buckets found (expected 'data' → buckets → 'results')")
    return out


def pick(mapping: dict, *keys):
    for k in keys:
        if k in mapping and mapping[k] not in (None, ""):
            return mapping[k]
    return None


def num_sum(*values):
    nums = [v for v in values if v not in (None, "")]
    if not nums:
        return None
    try:
        return sum(float(v) for v in nums)
    except (TypeError, ValueError):
        return nums[0]  # keep the bad text so the validator reports it

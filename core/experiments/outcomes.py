"""Outcomes imported from a CSV (resolved tickets, conversions, ratings), joined by request id.

Columns: ``request_id`` (the chat completion's ``id`` as the gateway returned it, with or without
``chatcmpl-``) and at least one of ``score`` (0..1), ``thumbs`` (up/down) or ``label``. Every
problem is listed at once (row and column) and nothing is stored unless the whole file is good;
a request id the gateway never served is a problem of its row. A request given feedback twice
keeps the newest (the import counts as newer than what came before)::

    import_outcomes(ws, Path("outcomes.csv"))   # {'rows': 120, 'experiments': {'cheap': 80}}
"""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from core.errors import InputError, Problem
from core.evaluation.csv_io import read_text_table, sniff_text
from core.experiments.live import feedback_value, record_feedback
from core.experiments.live_data import served_requests
from core.workspace import Workspace

VALUE_COLUMNS = ("score", "thumbs", "label")
EXPECTED = {"score": "a number between 0 and 1", "thumbs": "'up' or 'down'",
            "label": "text of 1 to 200 characters"}
MAX_PROBLEMS = 50


def _valid(column: str, value) -> bool:
    try:
        feedback_value(**{column: value})
    except InputError:
        return False
    return True


def import_outcomes(ws: Workspace, path: str | Path, label: str | None = None) -> dict:
    """Check the file, join it to the requests the gateway served, store it in one write."""
    path = Path(path)
    label = label or path.name
    delim = sniff_text(path, label)
    frame = read_text_table(path, label, delim).to_pandas()
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if "request_id" not in frame.columns:
        raise InputError(f"{label}: needs a request_id column (the chat completion ids the gateway "
                         f"returned); its columns are {', '.join(frame.columns)}")
    given = [c for c in VALUE_COLUMNS if c in frame.columns]
    if not given:
        raise InputError(f"{label}: needs a score (0..1), thumbs (up/down) or label column beside "
                         "request_id")
    if frame.empty:
        raise InputError(f"{label}: has a header but no rows")
    problems: list[Problem] = []
    rows = []
    ids = frame["request_id"].fillna("").astype(str).str.strip().str.removeprefix("chatcmpl-")
    for i, rec in enumerate(frame.to_dict("records"), start=1):
        if not ids.iloc[i - 1]:
            problems.append(Problem(label, i, "request_id", "a chat completion id", ""))
            continue
        values = {c: (None if pd.isna(rec.get(c)) or str(rec.get(c)).strip() == "" else rec.get(c))
                  for c in given}
        bad = [c for c in given if values[c] is not None and not _valid(c, values[c])]
        if bad or all(v is None for v in values.values()):
            problems += [Problem(label, i, c, EXPECTED[c], str(values[c])) for c in bad] or \
                [Problem(label, i, None, "a score, thumbs or label for this request")]
            continue
        score, thumbs, text = feedback_value(values.get("score"), values.get("thumbs"), values.get("label"))
        rows.append({"row": i, "request_id": ids.iloc[i - 1], "score": score, "thumbs": thumbs, "label": text})
    served = served_requests(ws, [r["request_id"] for r in rows]).set_index("request_id")
    for r in rows:
        if r["request_id"] not in served.index:
            problems.append(Problem(label, r["row"], "request_id", "the id of a request this gateway served",
                                    r["request_id"]))
    if problems:
        problems.sort(key=lambda p: (p.row or 0))
        raise InputError(f"{label}: nothing was imported", problems[:MAX_PROBLEMS])
    stamp = datetime.now(UTC).isoformat()
    out = [{"request_id": r["request_id"], "experiment": served.at[r["request_id"], "experiment"],
            "arm": served.at[r["request_id"], "arm"], "score": r["score"], "thumbs": r["thumbs"],
            "label": r["label"], "origin": f"import:{label}", "received_at": stamp} for r in rows]
    record_feedback(ws, out)
    per_experiment: dict[str, int] = {}
    for r in out:
        if r["experiment"]:
            per_experiment[r["experiment"]] = per_experiment.get(r["experiment"], 0) + 1
    return {"rows": len(out), "experiments": per_experiment}

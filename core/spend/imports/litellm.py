"""LiteLLM proxy spend logs (the LiteLLM_SpendLogs table, as CSV or JSON).

* **LiteLLM** proxy table ``LiteLLM_SpendLogs``: ``request_id`` (primary key), ``call_type``,
  ``api_key`` (a hash of the key: never read), ``spend``, ``total_tokens``, ``prompt_tokens``,
  ``completion_tokens``, ``startTime``, ``endTime``, ``completionStartTime``, ``model``,
  ``model_id``, ``model_group``, ``custom_llm_provider``, ``api_base``, ``user``, ``metadata``
  (JSON), ``cache_hit``, ``cache_key``, ``request_tags`` (JSON list), ``team_id``, ``end_user``,
  ``status``. The task comes from a ``task:NAME`` request tag or ``metadata.task``.
"""
from __future__ import annotations

import json

import pandas as pd

from core.errors import InputError


def json_field(value):
    if isinstance(value, (dict, list)):
        return value
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return None


def parse_records(doc, label: str) -> pd.DataFrame:
    """One ledger row per logged request (the export's ``request_id`` dedupes re-imports)."""
    if isinstance(doc, pd.DataFrame):
        records = doc.to_dict("records")
    else:
        records = doc.get("data", doc.get("logs", [])) if isinstance(doc, dict) else doc
    if not records or "request_id" not in records[0] or "spend" not in records[0]:
        raise InputError(f"{label}: not a LiteLLM SpendLogs export: expected columns request_id, "
                         "spend, startTime, model, prompt_tokens, completion_tokens")
    rows = []
    for r in records:
        tags = json_field(r.get("request_tags")) or []
        tags = [str(t) for t in tags] if isinstance(tags, list) else []
        meta = json_field(r.get("metadata")) or {}
        task = next((t.split(":", 1)[1] for t in tags if t.startswith("task:")), None)
        task = task or (meta.get("task") if isinstance(meta, dict) else None)
        start, end = r.get("startTime"), r.get("endTime")
        latency = None
        if start and end:
            try:
                latency = (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds() * 1000
            except (ValueError, TypeError):
                latency = None
        status = str(r.get("status") or "").lower()
        rows.append({
            "ts": start, "natural_id": r.get("request_id"),
            "model": r.get("model") or r.get("model_group"),
            "provider": r.get("custom_llm_provider"), "task": task,
            "project": r.get("team_id"), "cost_usd": r.get("spend"),
            "input_tokens": r.get("prompt_tokens"), "output_tokens": r.get("completion_tokens"),
            "latency_ms": latency, "cache_hit": r.get("cache_hit") or None,
            "status": {"success": "ok", "failure": "error"}.get(status, status or None),
            "tags": ",".join(t.replace(",", ";") for t in tags) or None, "kind": "call",
        })
    return pd.DataFrame(rows)


def parse_json(doc, label: str) -> pd.DataFrame:
    return parse_records(doc, label)


def parse_csv(raw: pd.DataFrame, label: str) -> pd.DataFrame:
    return parse_records(raw, label)

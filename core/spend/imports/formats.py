"""Usage/cost export formats: each becomes one staging relation with :data:`STAGE_COLUMNS`.

Every staged value is text (validated and typed afterwards in one bulk SQL pass by
:mod:`core.spend.imports.importer`); ``_row`` is the 1-based data row (or JSON result) for messages.

Field names, as the providers document them:

* **OpenAI** Usage API, ``GET /v1/organization/usage/completions``: a page
  ``{"object": "page", "data": [bucket...], "has_more", "next_page"}``; a bucket
  ``{"object": "bucket", "start_time", "end_time", "results": [...]}`` (epoch seconds); a
  completions result: ``input_tokens`` (includes cached), ``output_tokens``,
  ``input_cached_tokens``, ``input_audio_tokens``, ``output_audio_tokens``,
  ``num_model_requests``, ``project_id``, ``user_id``, ``api_key_id``, ``model``, ``batch``,
  ``service_tier``. Costs API, ``GET /v1/organization/costs``: results
  ``{"object": "organization.costs.result", "amount": {"value", "currency"}, "line_item",
  "project_id"}``; ``line_item`` reads like ``"gpt-4o-2024-08-06, input"``. The usage dashboard's
  CSV exports flatten the same fields: ``start_time, end_time, start_time_iso, end_time_iso,
  project_id, num_model_requests, user_id, api_key_id, model, batch, service_tier, input_tokens,
  output_tokens, input_cached_tokens, ...`` and for costs ``start_time, end_time,
  start_time_iso, end_time_iso, amount_value, amount_currency, line_item, project_id,
  organization_id, organization_name``.
* **Anthropic** Admin API ``GET /v1/organizations/usage_report/messages``:
  ``{"data": [{"starting_at", "ending_at", "results": [{"uncached_input_tokens",
  "cache_creation": {"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"},
  "cache_read_input_tokens", "output_tokens", "server_tool_use", "model", "workspace_id",
  "api_key_id", "service_tier", "context_window"}]}], "has_more", "next_page"}`` (no request
  count: ``requests`` stays NULL). ``GET /v1/organizations/cost_report``: results
  ``{"currency": "USD", "amount": "123.45", "description", "cost_type", "token_type", "model",
  "workspace_id", "service_tier", "context_window"}`` where ``amount`` is a decimal string in
  the lowest currency unit (cents: "123.45" is $1.23). CSV files with these field names (flattened
  ``cache_creation_5m_input_tokens``/``cache_creation_1h_input_tokens``) are read too; the console's
  own CSV column names could not be verified offline.
* **LiteLLM** proxy table ``LiteLLM_SpendLogs``: ``request_id`` (primary key), ``call_type``,
  ``api_key`` (a hash of the key: never read), ``spend``, ``total_tokens``, ``prompt_tokens``,
  ``completion_tokens``, ``startTime``, ``endTime``, ``completionStartTime``, ``model``,
  ``model_id``, ``model_group``, ``custom_llm_provider``, ``api_base``, ``user``, ``metadata``
  (JSON), ``cache_hit``, ``cache_key``, ``request_tags`` (JSON list), ``team_id``, ``end_user``,
  ``status``. The task comes from a ``task:NAME`` request tag or ``metadata.task``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from core.errors import InputError

STAGE_COLUMNS = ["_row", "ts", "model", "provider", "task", "project", "cost_usd", "input_tokens",
                 "cached_input_tokens", "cache_write_tokens", "output_tokens", "requests",
                 "latency_ms", "status", "cache_hit", "source", "experiment", "variant", "tags",
                 "natural_id", "kind", "cost_basis"]
FORMATS = ("generic", "openai", "anthropic", "litellm")

# generic: canonical column <- accepted names (case-insensitive), first present wins.
GENERIC_COLUMNS = {
    "ts": ["ts", "timestamp", "time", "created_at", "datetime", "date", "start_time", "starttime"],
    "model": ["model", "model_name"],
    "provider": ["provider"],
    "task": ["task"],
    "project": ["project", "project_id", "team"],
    "cost_usd": ["cost_usd", "cost", "spend", "amount_usd", "amount"],
    "input_tokens": ["input_tokens", "prompt_tokens"],
    "cached_input_tokens": ["cached_input_tokens", "cache_read_input_tokens", "input_cached_tokens"],
    "cache_write_tokens": ["cache_write_tokens", "cache_creation_input_tokens"],
    "output_tokens": ["output_tokens", "completion_tokens"],
    "requests": ["requests", "num_requests", "num_model_requests", "request_count"],
    "latency_ms": ["latency_ms"],
    "status": ["status"],
    "cache_hit": ["cache_hit"],
    "source": ["source"],
    "experiment": ["experiment"],
    "variant": ["variant"],
    "tags": ["tags"],
    "natural_id": ["call_id", "request_id", "id"],
}
GENERIC_DOC = (
    "generic CSV/JSONL: required `ts` (or timestamp/time/created_at/date), `model`, and "
    "`cost_usd` (or cost/spend/amount) or token counts (`input_tokens`/prompt_tokens, "
    "`output_tokens`/completion_tokens, `cached_input_tokens`); optional `task`, `provider`, "
    "`project`, `requests` (default 1), `latency_ms`, `status`, `cache_hit`, `source`, "
    "`experiment`, `variant`, `tags` (comma-separated) and `call_id`/`request_id` (dedupe key)")


def _is_json(head: bytes) -> bool:
    return head.lstrip()[:1] in (b"{", b"[")


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
        return _stage_generic(cur, path, label, json_lines=_is_json(head))
    if _is_json(head):
        frame = {"openai": _openai_json, "anthropic": _anthropic_json,
                 "litellm": _litellm_records}[fmt](_load_json(path, label), label)
    else:
        raw = _read_csv_text(cur, path, label)
        frame = {"openai": _openai_csv, "anthropic": _anthropic_csv,
                 "litellm": _litellm_records}[fmt](raw, label)
    _stage_frame(cur, frame)
    return []


# -- generic ---------------------------------------------------------------------------------
def _reader(path: Path, json_lines: bool, typed: bool = True) -> str:
    quoted = "'" + str(path).replace("'", "''") + "'"
    if json_lines:
        return f"read_json({quoted}, format='newline_delimited')"
    # Typed: DuckDB parses numbers and times natively (the fast path); a value that does not fit
    # the type sniffed from the sample fails the read, and the importer retries as text.
    return f"read_csv({quoted}, header=true{'' if typed else ', all_varchar=true'})"


def restage_as_text(cur, path: Path, label: str) -> None:
    """Recreate ``stage_src`` reading every CSV column as text (every bad value reportable)."""
    _stage_generic(cur, path, label, json_lines=False, typed=False)


def _stage_generic(cur, path: Path, label: str, json_lines: bool, typed: bool = True) -> list[str]:
    reader = _reader(path, json_lines, typed)
    try:
        columns = [d[0] for d in cur.execute(f"select * from {reader} limit 0").description]
    except Exception as exc:  # duckdb.Error: a file DuckDB cannot parse at all
        raise InputError(f"{label}: not a readable {'JSON lines' if json_lines else 'CSV'} file "
                         f"({str(exc).splitlines()[0][:160]})") from None
    lower = {c.lower().strip(): c for c in columns}
    picked = {}
    for canon, names in GENERIC_COLUMNS.items():
        for n in names:
            if n in lower:
                picked[canon] = lower[n]
                break
    missing = [c for c in ("ts", "model") if c not in picked]
    if not any(c in picked for c in ("cost_usd", "input_tokens", "output_tokens")):
        missing.append("cost_usd (or input_tokens/output_tokens)")
    if missing:
        raise InputError(f"{label}: missing column(s) {', '.join(missing)}; expected {GENERIC_DOC}")
    # (no row number here: a window over the whole file would serialize the read; the staged
    # table keeps file order, so its rowid + 1 is the data row)
    select = ["null::bigint as _row"]
    for canon in STAGE_COLUMNS[1:]:
        if canon in picked:
            select.append(f'"{picked[canon]}" as {canon}')
        else:
            select.append(f"null::varchar as {canon}")
    cur.execute(f"create or replace temp view stage_src as select {', '.join(select)} from {reader}")
    unused = [c for c in columns if c not in picked.values()]
    return [f"Columns not used: {', '.join(unused[:12])}"] if unused else []


# -- helpers for the structured formats ------------------------------------------------------
def _load_json(path: Path, label: str):
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


def _read_csv_text(cur, path: Path, label: str) -> pd.DataFrame:
    quoted = "'" + str(path).replace("'", "''") + "'"
    try:
        return cur.execute(f"select * from read_csv({quoted}, all_varchar=true, header=true)").df()
    except Exception as exc:
        raise InputError(f"{label}: not a readable CSV file ({str(exc).splitlines()[0][:160]})") from None


def _stage_frame(cur, frame: pd.DataFrame) -> None:
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


def _results(doc, label: str, time_key: str) -> list[tuple[object, dict]]:
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


def _pick(mapping: dict, *keys):
    for k in keys:
        if k in mapping and mapping[k] not in (None, ""):
            return mapping[k]
    return None


def _num_sum(*values):
    nums = [v for v in values if v not in (None, "")]
    if not nums:
        return None
    try:
        return sum(float(v) for v in nums)
    except (TypeError, ValueError):
        return nums[0]  # keep the bad text so the validator reports it


# -- OpenAI ----------------------------------------------------------------------------------
def _openai_row(start, r: dict) -> dict:
    row = {"ts": start, "provider": "openai", "project": _pick(r, "project_id")}
    amount = r.get("amount")
    if isinstance(amount, dict) or "amount_value" in r:
        value = amount.get("value") if isinstance(amount, dict) else r.get("amount_value")
        currency = (amount.get("currency") if isinstance(amount, dict) else r.get("amount_currency"))
        item = r.get("line_item") or ""
        model = item.split(",")[0].strip() if item else "(all models)"
        row.update(kind="cost", model=model, cost_usd=value, tags=item.replace(",", ";") or None)
        if currency and str(currency).lower() != "usd":
            row["cost_usd"] = f"{value} {currency}"  # reported as a bad row: not USD
        return row
    cached = _pick(r, "input_cached_tokens")
    row.update(kind="usage", model=_pick(r, "model") or "(all models)",
               input_tokens=_pick(r, "input_tokens"), cached_input_tokens=cached,
               output_tokens=_pick(r, "output_tokens"), requests=_pick(r, "num_model_requests"),
               tags="batch" if str(r.get("batch")).lower() == "true" else None)
    return row


def _openai_json(doc, label: str) -> pd.DataFrame:
    rows = [_openai_row(start, r) for start, r in _results(doc, label, "start_time")]
    return pd.DataFrame(rows)


def _openai_csv(raw: pd.DataFrame, label: str) -> pd.DataFrame:
    cols = set(raw.columns)
    if not ({"start_time", "start_time_iso"} & cols) or not ({"amount_value", "num_model_requests"} & cols):
        raise InputError(f"{label}: not an OpenAI usage or cost export: expected columns "
                         "start_time, model, input_tokens, output_tokens, num_model_requests "
                         "(usage) or start_time, amount_value, line_item (costs)")
    rows = [_openai_row(_pick(r, "start_time_iso", "start_time"), r)
            for r in raw.to_dict("records")]
    return pd.DataFrame(rows)


# -- Anthropic -------------------------------------------------------------------------------
def _anthropic_row(start, r: dict) -> dict:
    row = {"ts": start, "provider": "anthropic", "model": _pick(r, "model") or "(all models)",
           "project": _pick(r, "workspace_id")}
    if "amount" in r or "cost_usd" in r:
        cents = r.get("amount")
        try:
            dollars = float(cents) / 100 if cents not in (None, "") else r.get("cost_usd")
        except (TypeError, ValueError):
            dollars = cents
        if r.get("currency") not in (None, "", "USD", "usd"):
            dollars = f"{cents} {r.get('currency')}"
        tags = ";".join(str(v) for v in (r.get("cost_type"), r.get("token_type")) if v)
        row.update(kind="cost", cost_usd=dollars, tags=tags or None)
        return row
    creation = r.get("cache_creation") if isinstance(r.get("cache_creation"), dict) else {}
    writes = _num_sum(creation.get("ephemeral_5m_input_tokens"), creation.get("ephemeral_1h_input_tokens"),
                      r.get("cache_creation_5m_input_tokens"), r.get("cache_creation_1h_input_tokens"),
                      r.get("cache_creation_input_tokens"))
    uncached, read = r.get("uncached_input_tokens"), r.get("cache_read_input_tokens")
    # Our input_tokens count every input token (uncached + cache reads + cache writes).
    row.update(kind="usage", input_tokens=_num_sum(uncached, read, writes), cached_input_tokens=read,
               cache_write_tokens=writes, output_tokens=r.get("output_tokens"),
               tags=_pick(r, "service_tier"))
    return row


def _anthropic_json(doc, label: str) -> pd.DataFrame:
    return pd.DataFrame([_anthropic_row(start, r) for start, r in _results(doc, label, "starting_at")])


def _anthropic_csv(raw: pd.DataFrame, label: str) -> pd.DataFrame:
    cols = set(raw.columns)
    if not ({"starting_at", "date"} & cols) or not ({"uncached_input_tokens", "amount", "cost_usd"} & cols):
        raise InputError(f"{label}: not an Anthropic usage or cost report: expected columns "
                         "starting_at, model, uncached_input_tokens, cache_read_input_tokens, "
                         "output_tokens (usage) or starting_at, amount (cents), model (cost)")
    return pd.DataFrame([_anthropic_row(_pick(r, "starting_at", "date"), r)
                         for r in raw.to_dict("records")])


# -- LiteLLM ---------------------------------------------------------------------------------
def _json_field(value):
    if isinstance(value, (dict, list)):
        return value
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return None


def _litellm_records(doc, label: str) -> pd.DataFrame:
    if isinstance(doc, pd.DataFrame):
        records = doc.to_dict("records")
    else:
        records = doc.get("data", doc.get("logs", [])) if isinstance(doc, dict) else doc
    if not records or "request_id" not in records[0] or "spend" not in records[0]:
        raise InputError(f"{label}: not a LiteLLM SpendLogs export: expected columns request_id, "
                         "spend, startTime, model, prompt_tokens, completion_tokens")
    rows = []
    for r in records:
        tags = _json_field(r.get("request_tags")) or []
        tags = [str(t) for t in tags] if isinstance(tags, list) else []
        meta = _json_field(r.get("metadata")) or {}
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

"""The generic usage format: any CSV or JSON-lines file with recognisable columns.

Read by DuckDB directly (a view over its reader: the file is read once, by the validating pass).
"""
from __future__ import annotations

from pathlib import Path

from core.errors import InputError
from core.evaluation.csv_io import refuse
from core.spend.imports.staging import STAGE_COLUMNS

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
    "service_tier": ["service_tier"],
}
GENERIC_DOC = (
    "generic CSV/JSONL: required `ts` (or timestamp/time/created_at/date), `model`, and "
    "`cost_usd` (or cost/spend/amount) or token counts (`input_tokens`/prompt_tokens, "
    "`output_tokens`/completion_tokens, `cached_input_tokens`); optional `task`, `provider`, "
    "`project`, `requests` (default 1), `latency_ms`, `status`, `cache_hit`, `source`, "
    "`experiment`, `variant`, `tags` (comma-separated), `service_tier` (`batch` is priced at the "
    "batch rate) and `call_id`/`request_id` (dedupe key)")



def reader_sql(path: Path, json_lines: bool, typed: bool = True, delim: str | None = None) -> str:
    quoted = "'" + str(path).replace("'", "''") + "'"
    if json_lines:
        return f"read_json({quoted}, format='newline_delimited')"
    # Typed: DuckDB parses numbers and times natively (the fast path); a value that does not fit
    # the type sniffed from the sample fails the read, and the importer retries as text. The
    # delimiter is the one every CSV reader of the product sniffs (core.evaluation.csv_io).
    sep = "" if delim is None else ", delim='" + delim.replace("'", "''") + "'"
    # RFC 4180 quoting, strictly: an unclosed quote is an error (named by row), never a value
    strict = ", quote='\"', escape='\"', strict_mode=true"
    return f"read_csv({quoted}, header=true{sep}{strict}{'' if typed else ', all_varchar=true'})"


def stage(cur, path: Path, label: str, json_lines: bool, typed: bool = True,
          delim: str | None = None) -> list[str]:
    """Create the temp view ``stage_src`` over the file; returns notes (unused columns)."""
    reader = reader_sql(path, json_lines, typed, delim)
    try:
        columns = [d[0] for d in cur.execute(f"select * from {reader} limit 0").description]
        if not typed and not json_lines:  # the text read is the last resort: read it all now
            cur.execute(f"select count(*) from {reader}").fetchone()
    except Exception as exc:  # duckdb.Error: a file DuckDB cannot parse at all
        if json_lines:
            raise InputError(f"{label}: not a readable JSON lines file "
                             f"({str(exc).splitlines()[0][:160]})") from None
        # every broken row named: encoding (with the fix), NUL bytes, quotes, field counts
        raise refuse(path, label, delim or ",", str(exc)) from None
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
        hint = ""
        if len(columns) == 1 and not json_lines:
            hint = (f" (the header has one column, {columns[0][:60]!r}: save the file separated "
                    "by commas, semicolons, tabs or '|')")
        raise InputError(f"{label}: missing column(s) {', '.join(missing)}{hint}; expected {GENERIC_DOC}")
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

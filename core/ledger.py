"""The spend ledger: one row per real or simulated LLM call, in DuckDB.

Everything that calls a model (live runs, the playground, shadow runs) and everything that
imports real usage writes here, in bulk::

    record_calls(ws, frame)     # a pandas frame with LEDGER_COLUMNS (missing ones become NULL)

Keys and prompts never reach this table: it holds what was spent, not what was said.
"""
from __future__ import annotations

import pandas as pd

from core.workspace import Workspace

MIGRATIONS = [
    """
    create table ledger (
        call_id varchar primary key,          -- stable id: re-imports and reruns never double count
        ts timestamp not null,
        provider varchar,
        model varchar not null,
        task varchar,
        eval_run varchar,
        input_tokens bigint default 0,
        cached_input_tokens bigint default 0,
        cache_write_tokens bigint default 0,
        output_tokens bigint default 0,
        cost_usd double default 0,
        latency_ms double,
        status varchar not null default 'ok',   -- ok | error | timeout | rate_limited | ...
        cache_hit boolean not null default false,
        source varchar not null default 'live', -- live | import | simulation | shadow | playground
        experiment varchar,
        variant varchar,
        request_id varchar,
        import_file varchar
    );
    """,
]

LEDGER_COLUMNS = [
    "call_id", "ts", "provider", "model", "task", "eval_run", "input_tokens", "cached_input_tokens",
    "cache_write_tokens", "output_tokens", "cost_usd", "latency_ms", "status", "cache_hit", "source",
    "experiment", "variant", "request_id", "import_file",
]
_DEFAULTS = {"input_tokens": 0, "cached_input_tokens": 0, "cache_write_tokens": 0,
             "output_tokens": 0, "cost_usd": 0.0, "status": "ok", "cache_hit": False, "source": "live"}


def ensure_ledger(ws: Workspace) -> None:
    ws.ensure("ledger", MIGRATIONS)


def record_calls(ws: Workspace, calls: pd.DataFrame) -> int:
    """Insert calls in one statement; rows whose ``call_id`` is already there are skipped.

    Returns the number of rows actually added.
    """
    ensure_ledger(ws)
    if calls.empty:
        return 0
    frame = calls.copy()
    for col in LEDGER_COLUMNS:
        if col not in frame:
            frame[col] = _DEFAULTS.get(col)
        elif col in _DEFAULTS:
            frame[col] = frame[col].fillna(_DEFAULTS[col]) if frame[col].dtype != bool else frame[col]
    frame = frame[LEDGER_COLUMNS].drop_duplicates("call_id")
    with ws.transaction() as cur:
        before = cur.execute("select count(*) from ledger").fetchone()[0]
        cur.register("incoming_calls", frame)
        cur.execute(
            f"insert into ledger ({', '.join(LEDGER_COLUMNS)})"
            f" select {', '.join(LEDGER_COLUMNS)} from incoming_calls"
            " where call_id not in (select call_id from ledger)"
        )
        cur.unregister("incoming_calls")
        after = cur.execute("select count(*) from ledger").fetchone()[0]
    return int(after - before)

"""The spend ledger: one row per real or simulated LLM call, in DuckDB.

Everything that calls a model (live runs, the playground, shadow runs) and everything that
imports real usage writes here, in bulk::

    record_calls(ws, frame)     # a pandas frame with LEDGER_COLUMNS (missing ones become NULL)

Keys and prompts never reach this table: it holds what was spent, not what was said.

A row is one call, or one aggregated usage bucket from a provider export: ``requests`` holds how
many requests the row stands for (1 for a call, ``num_model_requests`` for an OpenAI bucket,
NULL when the export does not say), so per-1,000-request metrics stay right. ``source`` keeps
production apart from the rest: ``shadow`` (calls made only to compare a candidate) and
``simulation`` (spend computed from an eval set) never count as production spend.

The spend queries (bulk DuckDB SQL over the whole table, never row by row) live in
:mod:`core.spend.queries`; this module is the table and how rows get in.
"""
from __future__ import annotations

import threading

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
    # v2: the primary-key index made bulk inserts ~6x slower (measured: 150k rows/s with it,
    # ~1M rows/s without, 2M rows on 2 cores); duplicates are now refused by an anti-join in
    # record_calls/insert_staged. Adds `requests` (rows standing for many requests), `tags`
    # (free labels, comma-separated), `project` (OpenAI project / Anthropic workspace / LiteLLM
    # team), `kind` (call | usage | cost) and `cost_basis` (reported | catalog | superseded).
    """
    create table ledger_v2 (
        call_id varchar not null,
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
        status varchar not null default 'ok',
        cache_hit boolean not null default false,
        source varchar not null default 'live',
        experiment varchar,
        variant varchar,
        request_id varchar,
        import_file varchar,
        requests bigint default 1,
        tags varchar,
        project varchar,
        kind varchar not null default 'call',
        cost_basis varchar not null default 'reported'
    );
    insert into ledger_v2 (call_id, ts, provider, model, task, eval_run, input_tokens,
        cached_input_tokens, cache_write_tokens, output_tokens, cost_usd, latency_ms, status,
        cache_hit, source, experiment, variant, request_id, import_file)
    select call_id, ts, provider, model, task, eval_run, input_tokens, cached_input_tokens,
        cache_write_tokens, output_tokens, cost_usd, latency_ms, status, cache_hit, source,
        experiment, variant, request_id, import_file from ledger;
    drop table ledger;
    alter table ledger_v2 rename to ledger;
    """,
    # v3: a daily rollup the spend views read (thousands of rows instead of millions), kept up
    # to date incrementally by core.spend.rollup.refresh_rollup; rows may repeat a group (the
    # views always sum). `cost_counted` is the cost of rows that know their request count.
    """
    create table ledger_daily (
        day date, provider varchar, model varchar, task varchar, source varchar,
        experiment varchar, variant varchar, project varchar, tags varchar, kind varchar,
        cache_hit boolean, cost_usd double, cost_counted double, requests bigint, rows bigint,
        input_tokens bigint, cached_input_tokens bigint, output_tokens bigint
    );
    create table ledger_rollup_state (watermark bigint not null);
    insert into ledger_rollup_state values (0);
    """,
]

LEDGER_COLUMNS = [
    "call_id", "ts", "provider", "model", "task", "eval_run", "input_tokens", "cached_input_tokens",
    "cache_write_tokens", "output_tokens", "cost_usd", "latency_ms", "status", "cache_hit", "source",
    "experiment", "variant", "request_id", "import_file",
]
EXTRA_COLUMNS = ["requests", "tags", "project", "kind", "cost_basis"]
ALL_COLUMNS = LEDGER_COLUMNS + EXTRA_COLUMNS
_DEFAULTS = {"input_tokens": 0, "cached_input_tokens": 0, "cache_write_tokens": 0,
             "output_tokens": 0, "cost_usd": 0.0, "status": "ok", "cache_hit": False, "source": "live",
             "kind": "call", "cost_basis": "reported"}
# `requests` defaults to 1 only when the column is absent: NULL in a given frame means "unknown"
# (an export that does not count requests) and must stay NULL.
_ABSENT_DEFAULTS = {**_DEFAULTS, "requests": 1}

# DuckDB has no unique constraint any more (see migration v2): one writer at a time per process
# keeps the check-then-insert of the anti-join atomic.
_WRITE_LOCK = threading.RLock()  # re-entrant: a writer may read spend views


def ensure_ledger(ws: Workspace) -> None:
    ws.ensure("ledger", MIGRATIONS)


def insert_staged(cur, relation: str) -> int:
    """Append the rows of ``relation`` (a table/view with ALL_COLUMNS) whose call_id is new.

    Bulk: the ids already in the ledger are found by a semi-join probing the ledger against the
    incoming ids (the hash table is built on the incoming side, so a small batch into a big
    ledger is one scan of ``call_id``); duplicates inside ``relation`` keep one row. The common
    case, all new and distinct, is a plain ``insert ... select``. Call inside a transaction
    holding ``_WRITE_LOCK``. Returns the number of rows added.
    """
    cols = ", ".join(ALL_COLUMNS)
    cur.execute(f"create or replace temp table _existing_ids as select distinct call_id from ledger "
                f"where call_id in (select call_id from {relation})")
    existing = cur.execute("select count(*) from _existing_ids").fetchone()[0]
    repeated = cur.execute(f"select count(*) - count(distinct call_id) from {relation}").fetchone()[0]
    source = relation
    if existing:
        source = f"(select * from {relation} r where r.call_id not in (select call_id from _existing_ids))"
    if repeated:
        source = (f"(select * exclude (_dup) from (select *, row_number() over (partition by call_id)"
                  f" as _dup from {source}) where _dup = 1)")
    cur.execute(f"insert into ledger ({cols}) select {cols} from {source}")
    added = int(cur.fetchone()[0])
    cur.execute("drop table _existing_ids")
    return added


def record_calls(ws: Workspace, calls: pd.DataFrame) -> int:
    """Insert calls in one statement; rows whose ``call_id`` is already there are skipped.

    Returns the number of rows actually added.

    >>> calls = pd.DataFrame({"call_id": ["a"], "ts": [pd.Timestamp("2026-01-02")],
    ...                       "model": ["small"], "cost_usd": [0.002]})
    >>> record_calls(ws, calls), record_calls(ws, calls)   # the same call again adds nothing
    (1, 0)
    """
    ensure_ledger(ws)
    if calls.empty:
        return 0
    frame = calls.copy()
    for col in ALL_COLUMNS:
        if col not in frame:
            frame[col] = _ABSENT_DEFAULTS.get(col)
        elif col in _DEFAULTS and frame[col].dtype != bool:
            frame[col] = frame[col].fillna(_DEFAULTS[col])
    ts = pd.to_datetime(frame["ts"], utc=True)  # aware or naive in, naive UTC stored
    frame["ts"] = ts.dt.tz_localize(None)
    frame = frame[ALL_COLUMNS]
    with _WRITE_LOCK, ws.transaction() as cur:
        cur.register("incoming_calls", frame)
        try:
            added = insert_staged(cur, "incoming_calls")
        finally:
            cur.unregister("incoming_calls")
    return added


def write_lock() -> threading.RLock:
    """The lock bulk importers hold around :func:`insert_staged`."""
    return _WRITE_LOCK

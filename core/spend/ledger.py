"""The spend ledger: one row per real or simulated LLM call, in DuckDB.

Everything that calls a model (live runs, the playground, shadow runs, a gateway) and everything
that imports real usage writes here, in bulk::

    record_calls(ws, frame)     # a pandas frame with LEDGER_COLUMNS (missing ones become NULL)

Keys and prompts never reach this table: it holds what was spent, not what was said.

A row is one call, or one aggregated usage bucket from a provider export: ``requests`` holds how
many requests the row stands for (1 for a call, ``num_model_requests`` for an OpenAI bucket,
NULL when the export does not say), so per-1,000-request metrics stay right. ``source`` keeps
production apart from the rest: ``shadow`` (real calls made only to compare a candidate) and
``simulation`` (spend computed from an eval set, e.g. a replayed shadow comparison) never count
as production spend, and simulation is never billable. ``service_tier`` is the provider's
pricing tier when it is not the standard one (``batch``: the 50% batch price).

Money is exact or unknown, never invented (:func:`check_calls`, used by every writer):

* a cost that is not known (no price for the model, a usage export without a model) is stored as
  NULL with ``cost_basis = 'unknown'``; the spend views count such rows and show them as
  unknown, never as $0;
* a NaN or infinite number, a negative one, or one over :data:`MAX_COST_USD` per row or
  :data:`MAX_TOKENS` tokens per row is refused with an :class:`~core.errors.InputError` naming
  the row and column (the importer reports such rows and skips them).

A row known by its provider's request id has the call id :func:`request_call_id` of it, whoever
wrote it, so the same request imported twice (as generic, then as LiteLLM) counts once.

The spend queries (bulk DuckDB SQL over the whole table, never row by row) live in
:mod:`core.spend.queries`; this module is the table and how rows get in.
"""
from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from core.errors import InputError, Problem
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
    # v4: money made exact. `service_tier` (NULL = standard; 'batch' priced at the batch rate)
    # is a column and a rollup dimension; costs that are not numbers (NaN/inf from an import of
    # the last release) or were recorded at $0 for want of a price become unknown (NULL);
    # replayed shadow comparisons were simulations, not shadow calls; rows known by a provider
    # request id get the format-independent call id 'req:<id>' (they had '<format>:<id>'), so a
    # re-import under any format finds them. The rollup gains unknown-cost counts and is rebuilt.
    """
    alter table ledger add column service_tier varchar;
    update ledger set cost_usd = null, cost_basis = 'unknown' where isnan(cost_usd) or isinf(cost_usd);
    update ledger set cost_usd = null where cost_basis = 'unknown';
    update ledger set source = 'simulation' where source = 'shadow' and call_id like 'shadow:%';
    update ledger set call_id = 'req:' || request_id
        where import_file is not null and request_id is not null
          and call_id in ('generic:' || request_id, 'litellm:' || request_id);
    update ledger set service_tier = lower(trim(tags))
        where kind = 'usage' and provider in ('openai', 'anthropic')
          and lower(trim(tags)) in ('batch', 'priority', 'flex');
    drop table ledger_daily;
    create table ledger_daily (
        day date, provider varchar, model varchar, task varchar, source varchar,
        experiment varchar, variant varchar, project varchar, tags varchar, kind varchar,
        cache_hit boolean, service_tier varchar, cost_usd double, cost_counted double,
        requests bigint, requests_priced bigint, unknown_cost_rows bigint, rows bigint,
        input_tokens bigint, cached_input_tokens bigint, output_tokens bigint
    );
    update ledger_rollup_state set watermark = 0;
    """,
]

LEDGER_COLUMNS = [
    "call_id", "ts", "provider", "model", "task", "eval_run", "input_tokens", "cached_input_tokens",
    "cache_write_tokens", "output_tokens", "cost_usd", "latency_ms", "status", "cache_hit", "source",
    "experiment", "variant", "request_id", "import_file",
]
EXTRA_COLUMNS = ["requests", "tags", "project", "kind", "cost_basis", "service_tier"]
ALL_COLUMNS = LEDGER_COLUMNS + EXTRA_COLUMNS
# cost_usd has no default: a missing cost is unknown (NULL), never $0.
_DEFAULTS = {"input_tokens": 0, "cached_input_tokens": 0, "cache_write_tokens": 0,
             "output_tokens": 0, "status": "ok", "cache_hit": False, "source": "live",
             "kind": "call", "cost_basis": "reported"}
# `requests` defaults to 1 only when the column is absent: NULL in a given frame means "unknown"
# (an export that does not count requests) and must stay NULL.
_ABSENT_DEFAULTS = {**_DEFAULTS, "requests": 1}

# What one ledger row may hold. A row is one call or one provider usage bucket (one model, one
# project, one day at most); anything above these is a unit or export error, refused with the
# row named rather than summed into every total:
# * $1,000,000 per row: the dearest list price today is under $200 per million tokens, so one
#   call costs at most a few hundred dollars and a day of one model in one project a few tens of
#   thousands for the largest users; a million is beyond any real row, and a billion such rows
#   still sum far inside a double's exact range of cents.
# * 10,000,000,000,000 (1e13) tokens per row: a thousand times the largest daily volumes
#   providers report publicly for a whole organisation, and far inside BIGINT (9.2e18), so sums
#   over millions of rows never overflow.
MAX_COST_USD = 1_000_000.0
MAX_TOKENS = 10**13
TOKEN_COLUMNS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens")
_TOKENS = f"a whole number of tokens from 0 to {MAX_TOKENS:,}"
LIMITS = {  # column -> (largest value, whole numbers only, what was expected)
    "cost_usd": (MAX_COST_USD, False, f"a number of US dollars from 0 to {MAX_COST_USD:,.0f} "
                                      "(blank when not known)"),
    **{c: (MAX_TOKENS, True, _TOKENS) for c in TOKEN_COLUMNS},
    "requests": (MAX_TOKENS, True, f"a whole number of requests from 0 to {MAX_TOKENS:,}"),
    "latency_ms": (None, False, "a non-negative, finite number of milliseconds"),
}
REQUEST_ID_PREFIX = "req:"
MAX_REPORTED = 1000  # problems listed per refused frame

# DuckDB has no unique constraint any more (see migration v2): one writer at a time per process
# keeps the check-then-insert of the anti-join atomic.
_WRITE_LOCK = threading.RLock()  # re-entrant: a writer may read spend views


def request_call_id(request_id: str) -> str:
    """The call id of a row known by its provider's request id, whoever records it.

    >>> request_call_id(" chatcmpl-9xyz ")
    'req:chatcmpl-9xyz'
    """
    return REQUEST_ID_PREFIX + str(request_id).strip()


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


def check_calls(calls: pd.DataFrame, label: str = "calls") -> pd.DataFrame:
    """The rows ready for the ledger (ALL_COLUMNS, defaults filled), or InputError naming each bad one.

    Token counts that are missing mean none were reported (0); a missing cost means it is not
    known: NULL with ``cost_basis = 'unknown'``. Numbers must be finite, non-negative and within
    :data:`LIMITS`; every bad cell is reported (row, call id, column, value), nothing is stored.

    >>> bad = pd.DataFrame({"call_id": ["a", "b"], "ts": [pd.Timestamp("2026-01-05")] * 2,
    ...                     "model": ["m", "m"], "cost_usd": [0.5, float("inf")]})
    >>> check_calls(bad)
    Traceback (most recent call last):
    core.errors.InputError: calls: 1 bad row, nothing was recorded (1 problem):
      - calls (call_id 'b'), row 2, column 'cost_usd': expected a number of US dollars from 0 to 1,000,000 (blank when not known), got 'inf'
    >>> check_calls(bad.iloc[:1].assign(cost_usd=None))[["cost_usd", "cost_basis"]]
       cost_usd cost_basis
    0       NaN    unknown
    """
    frame = calls.reset_index(drop=True)
    for col in ALL_COLUMNS:
        if col not in frame:
            frame[col] = _ABSENT_DEFAULTS.get(col)
        elif col in _DEFAULTS and frame[col].dtype != bool:
            frame[col] = frame[col].fillna(_DEFAULTS[col])
    problems = []
    ids = frame["call_id"].astype(str).to_numpy()
    for col, (cap, whole, expected) in LIMITS.items():
        raw = frame[col]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = (raw.notna().to_numpy() & np.isnan(values)) | np.isinf(values) | (values < 0)
            if cap is not None:
                bad |= values > cap
            if whole:
                bad |= np.isfinite(values) & (values != np.floor(values))
        problems += [Problem(f"{label} (call_id '{ids[i]}')", int(i) + 1, col, expected,
                             str(raw.iloc[i])) for i in np.flatnonzero(bad)[:MAX_REPORTED]]
    if problems:
        problems.sort(key=lambda p: (p.row, p.column))
        rows = len({p.row for p in problems})
        raise InputError(f"{label}: {rows} bad row{'s' if rows != 1 else ''}, nothing was recorded",
                         problems)
    unknown = pd.to_numeric(frame["cost_usd"], errors="coerce").isna()
    frame["cost_usd"] = pd.to_numeric(frame["cost_usd"], errors="coerce")
    frame.loc[unknown, "cost_basis"] = "unknown"
    ts = pd.to_datetime(frame["ts"], utc=True)  # aware or naive in, naive UTC stored
    frame["ts"] = ts.dt.tz_localize(None)
    return frame[ALL_COLUMNS]


def record_calls(ws: Workspace, calls: pd.DataFrame) -> int:
    """Insert calls in one statement; rows whose ``call_id`` is already there are skipped.

    Every row is checked first (:func:`check_calls`): one bad number refuses the whole frame
    with an :class:`~core.errors.InputError` naming each bad row. Returns the number of rows
    actually added.

    >>> calls = pd.DataFrame({"call_id": ["a"], "ts": [pd.Timestamp("2026-01-02")],
    ...                       "model": ["small"], "cost_usd": [0.002]})
    >>> record_calls(ws, calls), record_calls(ws, calls)   # the same call again adds nothing
    (1, 0)
    """
    ensure_ledger(ws)
    if calls.empty:
        return 0
    frame = check_calls(calls)
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

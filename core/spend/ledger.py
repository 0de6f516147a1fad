"""The spend ledger: one row per real or simulated LLM call, in the workspace.

Everything that calls a model (live runs, the playground, shadow runs, a gateway) and everything
that imports real usage writes here, in bulk::

    record_calls(ws, frame)     # a pandas frame with LEDGER_COLUMNS (missing ones become NULL)

High-rate writers (the gateway) write through :class:`core.spend.writer.LedgerWriter` instead:
calls are spooled to a local file before they are acknowledged and committed in batches.

Keys and prompts never reach this table: it holds what was spent, not what was said.

A row is one call, or one aggregated usage bucket from a provider export: ``requests`` holds how
many requests the row stands for (1 for a call, ``num_model_requests`` for an OpenAI bucket,
NULL when the export does not say), so per-1,000-request metrics stay right. ``source`` keeps
production apart from the rest: ``shadow`` (real calls made only to compare a candidate) and
``simulation`` (spend computed from an eval set, e.g. a replayed shadow comparison) never count
as production spend, and simulation is never billable. ``service_tier`` is the provider's
pricing tier when it is not the standard one (``batch``: the 50% batch price).

Money is exact or unknown, never invented (:func:`check_calls` and :func:`ledger_row`, used by
every writer):

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

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.errors import InputError, Problem
from core.spend.rollup import ADD_MAX_COST, DDL, REBUILD, add_to_rollup
from core.workspace import Workspace

MIGRATIONS = [
    # v1, the DuckLake baseline. The single-file releases had v1-v4 (a PRIMARY KEY, then none:
    # DuckLake has no unique constraints, so duplicates are refused by an anti-join on call_id
    # under the 'ledger' lock row). `requests`: how many requests the row stands for; `tags`:
    # free labels, comma-separated; `project`: OpenAI project / Anthropic workspace / LiteLLM
    # team; `kind`: call | usage | cost; `cost_basis`: reported | catalog | superseded | unknown;
    # `service_tier`: NULL = standard, 'batch' priced at the batch rate. `ts` is a plain
    # TIMESTAMP in UTC: calendar functions on TIMESTAMPTZ are 3-20x slower in DuckDB 1.5.
    """
    create table ledger (
        call_id varchar not null,             -- stable id: re-imports and reruns never double count
        ts timestamp not null,
        provider varchar,
        model varchar not null,
        task varchar,
        eval_run varchar,
        input_tokens bigint default 0,
        cached_input_tokens bigint default 0,
        cache_write_tokens bigint default 0,
        output_tokens bigint default 0,
        cost_usd double,                      -- NULL: not known (never $0)
        latency_ms double,
        status varchar not null default 'ok',   -- ok | error | timeout | rate_limited | ...
        cache_hit boolean not null default false,
        source varchar not null default 'live', -- live | import | simulation | shadow | playground
        experiment varchar,
        variant varchar,
        request_id varchar,
        import_file varchar,
        requests bigint default 1,
        tags varchar,
        project varchar,
        kind varchar not null default 'call',
        cost_basis varchar not null default 'reported',
        service_tier varchar
    );
    """ + DDL + """
    create table ledger_imports (          -- one row per committed import (all or nothing)
        import_id varchar not null, file_name varchar, format varchar, rows_read bigint,
        rows_added bigint, imported_at timestamp not null
    );
    create table ledger_spool_flushed (    -- spool segments already in the ledger (core.spend.writer)
        segment varchar not null, rows bigint not null, flushed_at timestamp not null
    );
    insert into store_locks values ('ledger', 0);
    """,
    # v2: the rollup keeps each group's dearest call, so the most expensive calls of a selection
    # are found by reading only the calls at or above a floor (core.spend.rollup.top_cost_floor).
    ADD_MAX_COST + REBUILD,
]
# After the tables were filled from a single-file workspace (core.workspace.legacy): the money
# fixes of that release's migration v4 (idempotent, so a v4 file passes through unchanged), then
# the rollup rebuilt (the old one may lag its ledger).
LEGACY_FIXUPS = [
    "update ledger set cost_usd = null, cost_basis = 'unknown' where isnan(cost_usd) or isinf(cost_usd)",
    "update ledger set cost_usd = null where cost_basis = 'unknown'",
    "update ledger set source = 'simulation' where source = 'shadow' and call_id like 'shadow:%'",
    """update ledger set call_id = 'req:' || request_id
        where import_file is not null and request_id is not null
          and call_id in ('generic:' || request_id, 'litellm:' || request_id)""",
    """update ledger set service_tier = lower(trim(tags))
        where service_tier is null and kind = 'usage' and provider in ('openai', 'anthropic')
          and lower(trim(tags)) in ('batch', 'priority', 'flex')""",
    REBUILD,
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


def request_call_id(request_id: str) -> str:
    """The call id of a row known by its provider's request id, whoever records it.

    >>> request_call_id(" chatcmpl-9xyz ")
    'req:chatcmpl-9xyz'
    """
    return REQUEST_ID_PREFIX + str(request_id).strip()


def ensure_ledger(ws: Workspace) -> None:
    ws.ensure("ledger", MIGRATIONS, legacy_fixups=LEGACY_FIXUPS)


def insert_staged(ws: Workspace, cur, relation: str) -> int:
    """Append the rows of ``relation`` (a table/view with ALL_COLUMNS) whose call_id is new,
    and their sums to the daily rollup. Call inside a write (:meth:`Workspace.write`).

    Exact under concurrency: the write first bumps the ``ledger`` lock row, so two writers of
    the ledger conflict at commit and the loser, re-run, sees the winner's rows. Bulk: the ids
    already in the ledger are found by one semi-join probing the ledger against the incoming
    ids; duplicates inside ``relation`` keep one row. Returns the number of rows added.
    """
    ws.bump(cur, "ledger")
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
    cur.execute(f"create or replace temp table _new_calls as select {cols} from {source}")
    added = int(cur.execute("select count(*) from _new_calls").fetchone()[0])
    if added:
        cur.execute(f"insert into ledger ({cols}) select {cols} from _new_calls")
        add_to_rollup(cur, "_new_calls")
    cur.execute("drop table _existing_ids")
    cur.execute("drop table _new_calls")
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
    calls = calls.reset_index(drop=True)
    data = {}
    for col in ALL_COLUMNS:  # one new frame: inserting columns one by one is slow in pandas 3
        if col not in calls:
            data[col] = pd.Series([_ABSENT_DEFAULTS.get(col)] * len(calls), dtype=object)
        elif col in _DEFAULTS and calls[col].dtype != bool:
            data[col] = calls[col].fillna(_DEFAULTS[col])
        else:
            data[col] = calls[col]
    frame = pd.DataFrame(data)
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


def ledger_row(row: Mapping, label: str = "calls", number: int = 1) -> dict:
    """One call as a ledger row, checked like :func:`check_calls` but without pandas (the
    per-request path of the spool writer): ALL_COLUMNS, defaults filled, ``ts`` a naive UTC
    datetime, an unknown cost NULL with ``cost_basis = 'unknown'``.

    >>> r = ledger_row({"call_id": "a", "ts": "2026-01-02T03:04:05+01:00", "model": "m"})
    >>> r["ts"], r["requests"], r["cost_usd"], r["cost_basis"], r["source"]
    (datetime.datetime(2026, 1, 2, 2, 4, 5), 1, None, 'unknown', 'live')
    >>> ledger_row({"call_id": "b", "ts": "2026-01-02", "model": "m", "cost_usd": -1})
    Traceback (most recent call last):
    core.errors.InputError: calls: 1 bad row, nothing was recorded (1 problem):
      - calls (call_id 'b'), row 1, column 'cost_usd': expected a number of US dollars from 0 to 1,000,000 (blank when not known), got '-1'
    """
    out = {}
    for col in ALL_COLUMNS:
        value = row.get(col, _ABSENT)
        if value is _ABSENT:
            value = _ABSENT_DEFAULTS.get(col)
        elif value is None or value is pd.NA or (isinstance(value, float) and value != value):
            value = _DEFAULTS.get(col)
        elif hasattr(value, "item") and not isinstance(value, (str, bytes)):
            value = value.item()  # numpy scalars
        out[col] = value
    problems = []
    for col, (cap, whole, expected) in LIMITS.items():
        value = out[col]
        if value is None:
            continue
        try:
            number_value = float(value)
        except (TypeError, ValueError):
            number_value = float("nan")
        if not (number_value >= 0 and number_value != float("inf")) or (cap is not None and number_value > cap) \
                or (whole and number_value != int(number_value)):
            problems.append(Problem(f"{label} (call_id '{out['call_id']}')", number, col, expected, str(value)))
        else:
            out[col] = int(number_value) if whole else number_value
    if problems:
        raise InputError(f"{label}: 1 bad row, nothing was recorded", problems)
    if out["cost_usd"] is None:
        out["cost_basis"] = "unknown"
    ts = out["ts"]
    if isinstance(ts, str):
        ts = dt.datetime.fromisoformat(ts.strip().replace("Z", "+00:00"))
    if isinstance(ts, pd.Timestamp):
        ts = ts.to_pydatetime()
    if isinstance(ts, dt.datetime) and ts.tzinfo is not None:
        ts = ts.astimezone(dt.UTC).replace(tzinfo=None)
    out["ts"] = ts
    return out


_ABSENT = object()


def record_calls(ws: Workspace, calls: pd.DataFrame) -> int:
    """Insert calls in one write; rows whose ``call_id`` is already there are skipped.

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

    def body(cur):
        cur.register("incoming_calls", frame)
        try:
            return insert_staged(ws, cur, "incoming_calls")
        finally:
            cur.unregister("incoming_calls")

    return ws.write(body)

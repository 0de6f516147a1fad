"""Live runs in the workspace: one ``runs`` row per run, one ``run_calls`` row per (item, model).

Every finished call is journaled as it arrives (:mod:`core.live.journal`) and written in small
bulk batches to ``run_calls`` and to the spend ledger, so a crash loses at most the calls in
flight. ``run_calls`` keeps the latest
outcome per (run, item, model): a failure recorded before a crash is replaced by the success of
a later resume, a success is never replaced by a failure, and never asked for again
(:func:`done_pairs`).

Keys never reach these tables; prompts stay in the eval set they came from, and the ledger gets
only what was spent.

>>> create_run(ws, "r1", "demo", ["openai:gpt-4o-mini"], {}, 3)
>>> done_pairs(ws, "r1")
set()
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from core.workspace import Workspace

MIGRATIONS = [
    # v1, the DuckLake baseline (no PRIMARY KEY: uniqueness is kept by the writes below)
    """
    create table runs (
        run_id varchar not null,         -- one row per run (create_run under the 'runs' lock row)
        name varchar not null,
        evalset_id integer,              -- the inputs eval set in the workspace, when stored there
        models json not null,            -- ["provider:model", ...]
        config json not null,            -- concurrency, retries, cache, cap... (never keys)
        n_items integer not null,
        status varchar not null,         -- running | finished | cancelled | spend_cap | failed | interrupted
        source varchar not null default 'live',
        experiment varchar,
        results_evalset_id integer,
        message varchar,
        created_at timestamp not null,
        updated_at timestamp not null
    );
    create table run_calls (
        run_id varchar not null,
        item_id varchar not null,
        idx integer not null,
        model varchar not null,          -- the requested provider:model (the eval-set column)
        answered_by varchar,             -- provider:model that answered (differs after a fallback)
        call_id varchar not null,        -- the ledger row of the answering call
        ts timestamp not null,
        status varchar not null,         -- ok | cached | failed (circuit_open: older runs)
        error_kind varchar,
        error_message varchar,           -- redacted: never a key
        attempts integer not null default 0,
        retry_wait_s double not null default 0,
        input_tokens bigint, output_tokens bigint,
        cached_read_tokens bigint, cached_write_tokens bigint,
        cost_usd double, latency_ms double,
        cache_hit boolean not null default false,
        output varchar, prediction varchar, confidence double, parse_ok boolean,
        request_id varchar,
        logprob_confidence double        -- the confidence read from token log-probabilities
        -- one row per (run_id, item_id, model): write_calls deletes, then inserts
    );
    insert into store_locks values ('runs', 0);
    """,
    # v3: what the answer costs the model at the catalog price (`item_cost_usd`), apart from
    # what the call spent (`cost_usd`): a cache hit spends $0 but its answer still has the
    # price of its tokens, which the eval set built from the run must carry.
    """
    alter table run_calls add column item_cost_usd double;
    """,
]

CALL_COLUMNS = [
    "run_id", "item_id", "idx", "model", "answered_by", "call_id", "ts", "status", "error_kind",
    "error_message", "attempts", "retry_wait_s", "input_tokens", "output_tokens",
    "cached_read_tokens", "cached_write_tokens", "cost_usd", "latency_ms", "cache_hit", "output",
    "prediction", "confidence", "parse_ok", "request_id", "logprob_confidence", "item_cost_usd",
]
SUCCESS = ("ok", "cached")


def ensure_runs(ws: Workspace) -> None:
    ws.ensure("runs", MIGRATIONS)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def create_run(ws: Workspace, run_id: str, name: str, models: list[str], config: dict,
               n_items: int, evalset_id: int | None = None, source: str = "live",
               experiment: str | None = None) -> None:
    """Insert the run, or mark an existing one as running again (a resume)."""
    ensure_runs(ws)
    now = _now()

    def body(cur):
        ws.bump(cur, "runs")  # two processes starting one run id: the second sees the first
        exists = cur.execute("select 1 from runs where run_id = ?", [run_id]).fetchall()
        if exists:
            cur.execute("update runs set status = 'running', models = ?, config = ?, n_items = ?,"
                        " message = null, updated_at = ? where run_id = ?",
                        [json.dumps(models), json.dumps(config), n_items, now, run_id])
        else:
            cur.execute(
                "insert into runs (run_id, name, evalset_id, models, config, n_items, status,"
                " source, experiment, created_at, updated_at)"
                " values (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                [run_id, name, evalset_id, json.dumps(models), json.dumps(config), n_items,
                 source, experiment, now, now])

    ws.write(body)


def finish_run(ws: Workspace, run_id: str, status: str, message: str | None = None,
               results_evalset_id: int | None = None) -> None:
    ensure_runs(ws)
    ws.write(lambda cur: cur.execute(
        "update runs set status = ?, message = ?, updated_at = ?,"
        " results_evalset_id = coalesce(?, results_evalset_id) where run_id = ?",
        [status, message, _now(), results_evalset_id, run_id]))


def get_run(ws: Workspace, run_id: str) -> dict | None:
    ensure_runs(ws)
    row = ws.cursor().execute("select * from runs where run_id = ?", [run_id]).df()
    if row.empty:
        return None
    out = row.iloc[0].to_dict()
    out["models"] = json.loads(out["models"])
    out["config"] = json.loads(out["config"])
    return out


def list_runs(ws: Workspace) -> pd.DataFrame:
    """Runs, newest first, with their call counts by outcome and spend."""
    ensure_runs(ws)
    return ws.cursor().execute(
        """
        select r.run_id, r.name, r.status, r.models, r.n_items, r.evalset_id,
               r.results_evalset_id, r.created_at, r.updated_at, r.message,
               count(c.run_id) as calls_recorded,
               count(*) filter (where c.status = 'ok') as ok,
               count(*) filter (where c.status = 'cached') as cached,
               count(*) filter (where c.status not in ('ok', 'cached')) as failed,
               coalesce(sum(c.cost_usd), 0) as spend_usd,
               count(*) filter (where c.status = 'ok' and c.cost_usd is null) as unpriced
        from runs r left join run_calls c using (run_id)
        group by all order by r.created_at desc
        """).df()


def done_pairs(ws: Workspace, run_id: str) -> set[tuple[str, str]]:
    """(item_id, model) pairs that already have an answer: a resume never asks for them again."""
    ensure_runs(ws)
    rows = ws.cursor().execute(
        "select item_id, model from run_calls where run_id = ? and status in ('ok', 'cached')",
        [run_id]).fetchall()
    return {(str(i), str(m)) for i, m in rows}


def run_spend(ws: Workspace, run_id: str) -> float:
    """What the run's calls spent (a cache hit spends nothing)."""
    ensure_runs(ws)
    row = ws.cursor().execute(
        "select coalesce(sum(cost_usd), 0) from run_calls where run_id = ?", [run_id]).fetchall()[0]
    return float(row[0])


def run_calls(ws: Workspace, run_id: str) -> pd.DataFrame:
    ensure_runs(ws)
    return ws.cursor().execute(
        "select * from run_calls where run_id = ? order by idx, model", [run_id]).df()


def write_calls(ws: Workspace, calls: pd.DataFrame, ledger_rows: pd.DataFrame) -> None:
    """One bulk write: the latest outcome per (item, model), and every call in the ledger.

    Both land in one transaction so run_calls and the ledger never disagree after a crash.
    """
    ensure_runs(ws)
    from core.spend.ledger import ensure_ledger

    ensure_ledger(ws)
    if calls.empty and ledger_rows.empty:
        return
    frame = calls.reindex(columns=CALL_COLUMNS)
    # A batch may hold two outcomes for one pair (a failure, then a fallback success; a replayed
    # journal): keep the last answer if there is one, else the last failure.
    answered = frame["status"].isin(SUCCESS).to_numpy()
    frame = frame.iloc[np.argsort(answered, kind="stable")]
    frame = frame.drop_duplicates(["run_id", "item_id", "model"], keep="last")
    ledger = _ledger_frame(ledger_rows) if len(ledger_rows) else None
    from core.spend.ledger import insert_staged

    def body(cur):
        if len(frame):
            ws.bump(cur, "runs")  # the latest outcome per pair, also with two resumes at once
            cur.register("incoming_run_calls", frame)
            # The latest outcome per pair, except that an answer is never replaced by a failure
            # (a journal replayed late, or a second writer, cannot undo a paid-for answer).
            match = ("i.run_id = run_calls.run_id and i.item_id = run_calls.item_id"
                     " and i.model = run_calls.model")
            cur.execute(f"delete from run_calls where exists (select 1 from incoming_run_calls i"
                        f" where {match} and (run_calls.status not in ('ok', 'cached')"
                        " or i.status in ('ok', 'cached')))")
            cur.execute(f"insert into run_calls ({', '.join(CALL_COLUMNS)})"
                        f" select {', '.join(CALL_COLUMNS)} from incoming_run_calls i"
                        f" where not exists (select 1 from run_calls where {match})")
            cur.unregister("incoming_run_calls")
        if ledger is not None:
            cur.register("incoming_ledger_calls", ledger)
            try:
                insert_staged(ws, cur, "incoming_ledger_calls")  # the ledger's duplicate check
            finally:
                cur.unregister("incoming_ledger_calls")

    ws.write(body)


def _ledger_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Ledger rows checked and completed by the ledger's own rule (core.spend.ledger.check_calls)."""
    from core.spend.ledger import check_calls

    frame = rows if "cost_basis" in rows else rows.assign(cost_basis="catalog")
    return check_calls(frame, "live run calls")


__all__ = ["ensure_runs", "create_run", "finish_run", "get_run", "list_runs", "done_pairs",
           "run_spend", "run_calls", "write_calls", "SUCCESS"]

"""The ledger's many-writer path: spool each batch locally, commit in batches of hundreds.

For high-rate writers (the gateway: thousands of calls per second across worker processes)::

    writer = LedgerWriter(ws)        # one per process; a background thread flushes
    writer.add(rows)                 # a frame or a list of dicts with LEDGER_COLUMNS;
                                     # returns once the rows are on the local disk (fsync)
    writer.flush()                   # commit everything spooled so far (optional)
    writer.close()                   # flush what can be flushed, stop the thread
    store_health(ws)                 # {"reachable": ..., "spool": {"rows": ..., ...}}

``add`` never touches the store, so a request is answered whether or not the store can be
reached: an acknowledged row is in the spool (:mod:`core.spend.spool`), and survives a crash of
the process. The flusher rotates the spool every ``interval`` seconds (or ``batch_rows`` rows)
and commits the closed segments in one write, recording their names in
``ledger_spool_flushed`` in the same transaction, so a re-flush after a crash (committed, not yet
deleted) adds nothing. While the store is unreachable the spool grows; it drains when the store
is back, in this process or in whichever process next flushes that spool directory (segments
of a killed process are adopted).

Rows are de-duplicated within a flush; a call id must be unique per call (the gateway uses a
UUID): unlike :func:`core.spend.ledger.record_calls`, the flusher does not look for the ids
in the ledger (that would read every id of a large ledger several times a second).
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

from core.errors import InputError, StoreUnavailableError
from core.spend.ledger import ALL_COLUMNS, ensure_ledger, ledger_row
from core.spend.rollup import add_to_rollup
from core.spend.spool import OPEN, REJECTED, Spool, claimed
from core.workspace import Workspace, maintenance
from core.workspace.faults import store_fault_message

log = logging.getLogger("tradeoff.ledger")
REQUIRED = ("call_id", "ts", "model")
MAX_SEGMENTS_PER_FLUSH = 200
KEEP_FLUSH_RECORDS = "7 days"
SPOOL_TYPES = {"call_id": "VARCHAR", "ts": "TIMESTAMP", "provider": "VARCHAR", "model": "VARCHAR",
          "task": "VARCHAR", "eval_run": "VARCHAR", "input_tokens": "BIGINT",
          "cached_input_tokens": "BIGINT", "cache_write_tokens": "BIGINT", "output_tokens": "BIGINT",
          "cost_usd": "DOUBLE", "latency_ms": "DOUBLE", "status": "VARCHAR", "cache_hit": "BOOLEAN",
          "source": "VARCHAR", "experiment": "VARCHAR", "variant": "VARCHAR", "request_id": "VARCHAR",
          "import_file": "VARCHAR", "requests": "BIGINT", "tags": "VARCHAR", "project": "VARCHAR",
          "kind": "VARCHAR", "cost_basis": "VARCHAR", "service_tier": "VARCHAR"}


def spool_for(ws: Workspace) -> Spool:
    """The spool directory of ``ws`` on this machine (TRADEOFF_SPOOL_DIR, else beside the
    embedded workspace, else in the local cache)."""
    return Spool(ws.location.spool_dir)


class LedgerWriter:
    """Durable, batched ledger writes for one process (thread-safe)."""

    def __init__(self, ws: Workspace, *, interval: float = 0.5, batch_rows: int = 500,
                 spool_dir: str | Path | None = None, background: bool = True,
                 on_batch: Callable[[pd.DataFrame], None] | None = None):
        self.ws = ws
        self.interval = interval
        self.spool = Spool(spool_dir or ws.location.spool_dir, max_rows=batch_rows)
        self.on_batch = on_batch  # sees each committed batch (after its commit)
        self.last_error: str | None = None
        self.flushed_rows = 0
        self.adopted_segments = 0  # open segments of killed processes, committed by this writer
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_compact = 0.0
        self._thread = None
        try:
            ensure_ledger(ws)
        except StoreUnavailableError as exc:  # starting during an outage: spool, create later
            self.last_error = str(exc)
        if background:
            self._thread = threading.Thread(target=self._loop, name="tradeoff-ledger-flusher",
                                            daemon=True)
            self._thread.start()

    # -- the request path --------------------------------------------------------------------
    def add(self, rows: pd.DataFrame | list[dict]) -> int:
        """Spool ``rows``; returns how many, once they are on disk. Never waits for the store.

        Raises :class:`InputError` (and spools nothing) when a row lacks a call id, a time or a
        model, or holds a number the ledger refuses (NaN, negative, absurd: see
        :data:`core.spend.ledger.LIMITS`): such a row could never be committed.
        """
        records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
        if not records:
            return 0
        lines = []
        for i, record in enumerate(records, 1):
            row = ledger_row(record, "ledger rows", i)
            missing = [c for c in REQUIRED if row[c] is None or row[c] == ""]
            if missing or not isinstance(row["ts"], dt.datetime):
                raise InputError(f"Ledger row {i}: expected {', '.join(REQUIRED)} (a date-time), "
                                 f"missing or empty: {', '.join(missing) or 'ts'}; nothing was recorded")
            row["ts"] = row["ts"].isoformat(sep=" ")
            lines.append(json.dumps(row, default=str, separators=(",", ":")))
        self.spool.append(("\n".join(lines) + "\n").encode(), len(lines))
        if self.spool.current_rows()[0] == 0:  # the append closed a full segment
            self._wake.set()
        return len(lines)

    # -- the flusher -------------------------------------------------------------------------
    def flush(self) -> int:
        """Commit every spooled row now; returns rows added. Raises StoreUnavailableError when
        the store cannot be reached (the rows stay spooled)."""
        self.spool.rotate()
        return self._flush_pending()

    def commit_spooled(self) -> int:
        """Commit the closed segments of the spool directory (any process's, and the open ones
        of killed processes) without closing this writer's own; returns rows added."""
        return self._flush_pending()

    def _flush_pending(self) -> int:
        try:
            return self._flush_claimed()
        except duckdb.Error as exc:
            message = store_fault_message(exc, self.ws.location)
            if message:
                raise StoreUnavailableError(message) from None
            raise

    def _flush_claimed(self) -> int:
        total = 0
        with self._flush_lock:
            while True:
                pending = self.spool.pending()[:MAX_SEGMENTS_PER_FLUSH]
                if not pending:
                    break
                with claimed(pending) as mine:
                    if not mine:
                        break  # another process is flushing these
                    adopted = sum(1 for p in mine if p.suffix == OPEN)
                    total += self._commit(mine)
                    if adopted:
                        self.adopted_segments += adopted
                        log.warning("committed %d spool segment(s) of a process that died", adopted)
                if len(pending) < MAX_SEGMENTS_PER_FLUSH:
                    break
        self.flushed_rows += total
        return total

    def _commit(self, segments: list[Path]) -> int:
        ensure_ledger(self.ws)
        names = [p.stem for p in segments]
        files = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in segments) + "]"
        columns = "{" + ", ".join(f"'{c}': '{t}'" for c, t in SPOOL_TYPES.items()) + "}"
        cols = ", ".join(ALL_COLUMNS)
        cur = self.ws.new_cursor()
        try:
            try:
                cur.execute(f"""create temp table _spooled as
                    select {cols}, parse_filename(filename, true) as _segment
                    from read_json({files}, format = 'newline_delimited', columns = {columns},
                                   filename = true, ignore_errors = true)""")
            except duckdb.Error as exc:
                if store_fault_message(exc, self.ws.location):
                    raise
                for path in segments:  # unreadable files: set aside, never block the spool
                    path.rename(path.with_suffix(REJECTED))
                log.error("spool segments set aside (%s): %s", len(segments), str(exc).splitlines()[0])
                return 0
            cur.execute("create temp table _segments as select unnest(?::varchar[]) as segment", [names])

            def body(c) -> int:
                c.execute("create or replace temp table _done as select segment from ledger_spool_flushed "
                          "where segment in (select segment from _segments)")
                c.execute(f"""create or replace temp table _batch as select {cols} from _spooled
                    where _segment not in (select segment from _done) and call_id is not null
                    qualify row_number() over (partition by call_id) = 1""")
                added = c.execute("select count(*) from _batch").fetchone()[0]
                if added:
                    c.execute(f"insert into ledger ({cols}) select {cols} from _batch")
                    add_to_rollup(c, "_batch")
                c.execute("""insert into ledger_spool_flushed
                    select s.segment, count(b._segment), current_timestamp from _segments s
                    left join _spooled b on b._segment = s.segment
                    where s.segment not in (select segment from _done) group by s.segment""")
                return int(added)

            added = self.ws.write(body, cur=cur)
            if self.on_batch is not None and added:
                try:
                    self.on_batch(cur.execute("select * from _batch").df())
                except Exception:  # a hook must never cost a row
                    log.exception("ledger batch hook failed")
        finally:
            cur.close()
        for path in segments:  # still holding their locks: no other flusher reads them again
            path.unlink(missing_ok=True)
        return added

    def _loop(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            self._wake.wait(backoff)
            self._wake.clear()
            if self._stop.is_set():
                break
            rows, age = self.spool.current_rows()
            if rows and age >= self.interval:
                self.spool.rotate()
            try:
                self._flush_pending()
                self.last_error = None
                backoff = self.interval
                if time.monotonic() - self._last_compact > 30:
                    self._last_compact = time.monotonic()
                    maintenance.maybe_compact(self.ws)
            except Exception as exc:  # the store is down: keep spooling, try again later
                self.last_error = _describe(exc, self.ws)
                log.warning("ledger flush deferred: %s", self.last_error)
                backoff = min(30.0, max(self.interval, backoff * 2))

    def close(self, timeout: float = 30.0) -> None:
        """Stop the flusher and commit what the store accepts; the rest stays spooled."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.spool.close()
        try:
            self._flush_pending()
        except Exception as exc:
            self.last_error = _describe(exc, self.ws)
            log.warning("ledger rows left in the spool %s: %s", self.spool.dir, self.last_error)


def _describe(exc: BaseException, ws: Workspace) -> str:
    if isinstance(exc, StoreUnavailableError):
        return str(exc)
    return store_fault_message(exc, ws.location) or f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"


def store_health(ws: Workspace, writer: LedgerWriter | None = None) -> dict:
    """Can the store be reached now, and what waits in this machine's spool to reach it.

    ``{"store": label, "reachable": bool, "error": why not, "flush_error": the writer's last
    failed flush, "spool": {"segments", "rows", "oldest_s", "rejected_segments", "dir"},
    "ok": reachable, flushing and nothing set aside}``
    """
    spool = writer.spool if writer is not None else spool_for(ws)
    error = None
    try:
        ws.ping()
    except StoreUnavailableError as exc:
        error = str(exc)
    backlog = spool.backlog()
    flush_error = writer.last_error if writer is not None else None
    return {"store": ws.label, "reachable": error is None, "error": error, "flush_error": flush_error,
            "spool": {**backlog, "dir": str(spool.dir)},
            "ok": error is None and flush_error is None and backlog["rejected_segments"] == 0}


def _prune_flush_records(ws: Workspace) -> int:
    if "ledger_spool_flushed" not in ws.tables(ws.cursor()):
        return 0
    return int(ws.write(lambda c: c.execute(
        "delete from ledger_spool_flushed where flushed_at < "
        f"cast(current_timestamp as timestamp) - interval '{KEEP_FLUSH_RECORDS}'"
    ).fetchone()[0]))


maintenance.register("spool_records_pruned", _prune_flush_records)
__all__ = ["LedgerWriter", "store_health", "spool_for"]

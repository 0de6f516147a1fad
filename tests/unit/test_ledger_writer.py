"""The spool writer: acknowledged rows survive a killed process, a store outage and a re-flush."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import time

import pytest

from core.errors import InputError
from core.spend.queries import SpendFilter, totals
from core.spend.writer import LedgerWriter, store_health
from core.workspace import open_workspace
from tests.helpers.processes import start


def rows(prefix: str, n: int, cost: float = 0.01) -> list[dict]:
    ts = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    return [{"call_id": f"{prefix}-{i}", "ts": ts, "model": "m", "cost_usd": cost} for i in range(n)]


def ledger_ids(ws) -> list[str]:
    return [r[0] for r in ws.cursor().execute("select call_id from ledger order by call_id").fetchall()]


def test_rows_reach_the_ledger_and_the_rollup(ws):
    writer = LedgerWriter(ws, background=False)
    assert writer.add(rows("a", 3)) == 3
    assert writer.add(rows("b", 2, cost=0.5)) == 2
    assert ledger_ids(ws) == []  # spooled, not yet committed
    assert store_health(ws, writer)["spool"]["rows"] == 5
    assert writer.flush() == 5
    assert ledger_ids(ws) == ["a-0", "a-1", "a-2", "b-0", "b-1"]
    ts = ws.cursor().execute("select ts from ledger where call_id = 'a-0'").fetchone()[0]
    assert ts == dt.datetime(2026, 6, 1, 12)  # naive UTC
    assert totals(ws, SpendFilter(scope="all"))["cost_usd"] == pytest.approx(3 * 0.01 + 2 * 0.5)
    health = store_health(ws, writer)
    assert health["ok"] and health["reachable"] and health["spool"]["rows"] == 0
    writer.close()


def test_a_row_without_a_model_is_refused_at_once(ws):
    writer = LedgerWriter(ws, background=False)
    with pytest.raises(InputError, match="model"):
        writer.add([{"call_id": "x", "ts": dt.datetime(2026, 1, 1)}])
    assert store_health(ws, writer)["spool"]["rows"] == 0  # nothing spooled
    writer.close()


def test_a_reflush_after_a_crash_adds_nothing(ws, tmp_path):
    """Committed but not yet deleted (a crash between the two): the segment is flushed again
    and adds nothing, because its name was recorded in the same transaction as its rows."""
    writer = LedgerWriter(ws, background=False)
    writer.add(rows("c", 4))
    writer.spool.rotate()
    segment = writer.spool.pending()[0]
    shutil.copy(segment, tmp_path / segment.name)
    assert writer.flush() == 4
    shutil.copy(tmp_path / segment.name, segment)  # as if the process died before deleting it
    assert writer.flush() == 0
    assert ledger_ids(ws) == [f"c-{i}" for i in range(4)]
    assert not writer.spool.pending()  # the leftover was deleted
    writer.close()


def test_a_torn_last_line_is_skipped(ws):
    """A crash in the middle of a write leaves half a line, never acknowledged: skipped."""
    writer = LedgerWriter(ws, background=False)
    writer.add(rows("d", 2))
    writer.spool.rotate()
    segment = writer.spool.pending()[0]
    with open(segment, "ab") as fh:
        fh.write(b'{"call_id":"torn","ts":"2026-06-01 12:')
    assert writer.flush() == 2
    assert ledger_ids(ws) == ["d-0", "d-1"]
    writer.close()


def test_sigkill_loses_no_acknowledged_row(workspace_path):
    """A writer process killed mid-stream: every row it acknowledged is in the ledger once
    another process has flushed the spool (it adopts the dead writer's open segment)."""
    worker = start("spool", "k", "400", "20", wait=False)
    worker.expect("ready")
    acked = 0
    while acked < 600:  # some flushed by its own flusher, some still in the spool
        acked = int(worker.expect("acked").split()[1])
    os.kill(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()
    for line in worker.proc.stdout:  # acknowledgements printed before the kill
        if line.startswith("acked"):
            acked = int(line.split()[1])
    ws = open_workspace(workspace_path)
    writer = LedgerWriter(ws, background=False)
    writer.flush()
    ids = ledger_ids(ws)
    assert len(ids) == len(set(ids))  # nothing twice
    acked_ids = {f"k-{b}-{i}" for b in range(acked // 20) for i in range(20)}
    assert acked_ids <= set(ids)  # nothing acknowledged lost
    assert len(ids) - len(acked_ids) in (0, 20)  # at most the batch added but not yet printed
    writer.close()


def test_store_outage_spools_then_drains(team_store, pg_server):
    """Team mode with the PostgreSQL server stopped: rows are still acknowledged, the health
    check says the store is unreachable and how much waits; once it is back, all of it lands."""
    ws = open_workspace()
    writer = LedgerWriter(ws, background=False)
    writer.add(rows("before", 5))
    assert writer.flush() == 5
    pg_server.stop()
    try:
        writer.add(rows("during", 7))
        health = store_health(ws, writer)
        assert not health["reachable"] and not health["ok"]
        assert "cannot be reached" in health["error"] and "password" not in health["error"]
        assert health["spool"]["rows"] == 7
        with pytest.raises(Exception, match="cannot be reached"):
            writer.flush()
        assert store_health(ws, writer)["spool"]["rows"] == 7  # still spooled
    finally:
        pg_server.start()
    deadline = time.monotonic() + 60
    while True:  # the first queries after a restart may still fail
        try:
            assert writer.flush() == 7
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert ledger_ids(ws) == sorted([f"before-{i}" for i in range(5)] + [f"during-{i}" for i in range(7)])
    assert store_health(ws, writer)["ok"]
    writer.close()


def test_the_spool_reads_back_every_ledger_column():
    from core.spend.ledger import ALL_COLUMNS
    from core.spend.writer import SPOOL_TYPES

    assert list(SPOOL_TYPES) == ALL_COLUMNS


def test_a_bad_number_is_refused_before_it_is_acknowledged(ws):
    writer = LedgerWriter(ws, background=False)
    with pytest.raises(InputError, match="column 'cost_usd'"):
        writer.add([*rows("ok", 2), {"call_id": "nan", "ts": dt.datetime(2026, 1, 1), "model": "m",
                                     "cost_usd": float("inf")}])
    assert store_health(ws, writer)["spool"]["rows"] == 0  # nothing of that batch spooled
    writer.add([{"call_id": "u", "ts": dt.datetime(2026, 1, 1), "model": "m"}])  # cost not known
    writer.flush()
    assert ws.cursor().execute("select cost_usd, cost_basis from ledger").fetchall() == [(None, "unknown")]
    writer.close()

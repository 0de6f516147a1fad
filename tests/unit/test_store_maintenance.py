"""Compaction: many small writes become few files, every number stays the same."""
from __future__ import annotations

import pandas as pd

from core.spend.ledger import record_calls
from core.spend.queries import SpendFilter, spend_by
from core.workspace.maintenance import compact, maybe_compact


def files(ws, table: str) -> int:
    return ws.cursor().execute(
        f"select count(*) from ducklake_list_files('{ws.alias}', '{table}')").fetchone()[0]


def test_compaction_merges_small_files_and_keeps_every_row(ws):
    for b in range(12):  # 12 writes of 25 rows: above the inlining limit, one file each
        record_calls(ws, pd.DataFrame({
            "call_id": [f"b{b}-{i}" for i in range(25)], "ts": pd.Timestamp("2026-07-01") + pd.Timedelta(hours=b),
            "model": ["small", "big"] * 12 + ["small"], "cost_usd": [0.01 * (i % 3) for i in range(25)]}))
    before_files = files(ws, "ledger")
    before = spend_by(ws, ["day", "model"], SpendFilter(scope="all"))
    rollup_rows = ws.cursor().execute("select count(*) from ledger_daily").fetchone()[0]
    assert before_files >= 12 and rollup_rows == 24  # one rollup row per model per write

    assert maybe_compact(ws) is None  # a few dozen commits: not due yet
    done = maybe_compact(ws, every=1)
    assert done["merged"] > 0 and done["rollup_folded"] == 22

    assert files(ws, "ledger") < before_files
    assert ws.cursor().execute("select count(*), count(distinct call_id) from ledger").fetchone() == (300, 300)
    after = spend_by(ws, ["day", "model"], SpendFilter(scope="all"))
    pd.testing.assert_frame_equal(before, after)
    assert ws.cursor().execute("select count(*) from ledger_daily").fetchone()[0] == 2
    assert maybe_compact(ws, every=100) is None  # just ran: claimed by this process
    assert compact(ws)["merged"] == 0  # nothing left to merge

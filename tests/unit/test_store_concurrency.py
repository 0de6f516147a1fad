"""Many processes on one workspace, embedded and team mode: no error, nothing lost, nothing twice.

Each test runs real processes (``tests.helpers.store_workers``) against the embedded store (a
SQLite catalog) and against a PostgreSQL catalog started by the test session, and checks the
ledger row by row afterwards: every acknowledged or reported row is there exactly once, and the
daily rollup equals SQL over the raw rows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.workspace import open_workspace
from tests.helpers.processes import run_together, start


@pytest.fixture(params=["embedded", "team"])
def store(request, tmp_path, monkeypatch):
    """The workspace every process of the test uses (set in the environment they inherit)."""
    if request.param == "team":
        return request.getfixturevalue("team_store")
    monkeypatch.delenv("TRADEOFF_STORE", raising=False)
    monkeypatch.setenv("TRADEOFF_WORKSPACE", str(tmp_path / "ws"))
    return str(tmp_path / "ws")


def usage_csv(path, n: int, prefix: str = "imp") -> str:
    pd.DataFrame({
        "call_id": [f"{prefix}-{i}" for i in range(n)],
        "ts": pd.Timestamp("2026-04-01") + pd.to_timedelta(np.arange(n) * 7, unit="s"),
        "model": np.where(np.arange(n) % 2 == 0, "small", "big"),
        "task": "import", "cost_usd": np.round((np.arange(n) % 97) / 1e4, 6),
    }).to_csv(path, index=False)
    return str(path)


def check_ledger(ws, expected_ids: set[str]) -> None:
    cur = ws.cursor()
    rows, distinct = cur.execute("select count(*), count(distinct call_id) from ledger").fetchone()
    assert rows == distinct == len(expected_ids)  # nothing twice
    ids = {r[0] for r in cur.execute("select call_id from ledger").fetchall()}
    assert ids == expected_ids  # nothing lost, nothing else
    raw = cur.execute("select cast(ts as date) d, model, sum(cost_usd), count(*) from ledger "
                      "group by all order by all").fetchall()
    rolled = cur.execute("select day, model, sum(cost_usd), sum(rows) from ledger_daily "
                         "group by all order by all").fetchall()
    assert [(d, m, n) for d, m, _, n in raw] == [(d, m, n) for d, m, _, n in rolled]
    assert np.allclose([c for *_, c, _ in raw], [c for *_, c, _ in rolled])


def test_writers_an_import_and_a_reader_at_once(store, tmp_path):
    """Two gateway-like spool writers, a live-run writer, a 20,000-row import (short-lock
    path) and a reader of the Spend page's queries, all at once."""
    csv = usage_csv(tmp_path / "usage.csv", 20_000)
    workers = run_together(("spool", "gw1", "12", "50"), ("spool", "gw2", "12", "50"),
                           ("record", "live", "8", "25"), ("import", csv, "1000"), ("read", "8"))
    gw1, gw2, live, imp, reader = workers
    assert int(gw1.value("acked")) == int(gw2.value("acked")) == 600
    assert int(live.value("added")) == 200 and int(imp.value("added")) == 20_000
    assert int(reader.value("reads")) >= 1
    ws = open_workspace()
    ids = {f"gw{g}-{b}-{i}" for g in (1, 2) for b in range(12) for i in range(50)}
    ids |= {f"live-{b}-{i}" for b in range(8) for i in range(25)}
    ids |= {f"req:imp-{i}" for i in range(20_000)}
    check_ledger(ws, ids)
    from core.spend.writer import store_health

    assert store_health(ws)["spool"]["rows"] == 0  # the writers' close() flushed everything


@pytest.mark.parametrize("short_lock_rows", [1_000_000, 0], ids=["in-write", "short-lock"])
def test_concurrent_imports_of_one_file_add_it_once(store, tmp_path, short_lock_rows):
    csv = usage_csv(tmp_path / "same.csv", 3_000)
    workers = run_together(*[("import", csv, str(short_lock_rows))] * 2)
    added = sorted(int(w.value("added")) for w in workers)
    assert added == [0, 3_000]  # one import wins, the other finds every row there
    ws = open_workspace()
    check_ledger(ws, {f"req:imp-{i}" for i in range(3_000)})
    imports = ws.cursor().execute("select count(*), sum(rows_added) from ledger_imports").fetchone()
    assert imports == (2, 3_000)  # each import recorded, all or nothing


def test_ids_stay_unique_across_processes(store):
    workers = run_together(("policies", "6"), ("policies", "6"), ("policies", "6"))
    ids = [int(i) for w in workers for i in w.value("ids").split(",")]
    assert sorted(ids) == list(range(1, 19))


def test_processes_migrating_a_new_workspace_at_once(store):
    workers = [start("ensure", wait=False) for _ in range(3)]
    for w in workers:
        assert "ensured" in w.finish()
    versions = open_workspace().cursor().execute(
        "select component, count(*) from schema_versions group by all order by all").fetchall()
    assert [c for c, _ in versions] == ["budgets", "evalsets", "ledger", "policies", "runs"]
    assert all(n == 1 for _, n in versions)


def test_readers_never_wait_for_a_writer(tmp_path, monkeypatch):
    """Embedded: while another process holds the write lock (a long import), spend queries and
    eval-set listings still answer (they never take the lock)."""
    from core.evaluation.store import list_evalsets
    from core.spend.ledger import record_calls
    from core.spend.queries import totals

    monkeypatch.delenv("TRADEOFF_STORE", raising=False)
    monkeypatch.setenv("TRADEOFF_WORKSPACE", str(tmp_path / "ws"))
    ws = open_workspace()
    record_calls(ws, pd.DataFrame({"call_id": ["a"], "ts": [pd.Timestamp("2026-01-01")],
                                   "model": ["m"], "cost_usd": [1.5]}))
    list_evalsets(ws)
    holder = start("hold-lock", wait=False)
    holder.expect("locked")
    try:
        assert totals(ws)["cost_usd"] == 1.5
        assert list_evalsets(ws).empty
    finally:
        holder.proc.stdin.close()
        holder.finish()


@pytest.mark.parametrize("short_lock_rows", [1_000_000, 0], ids=["in-write", "short-lock"])
def test_an_import_that_fails_while_committing_leaves_nothing(store, tmp_path, monkeypatch,
                                                             short_lock_rows):
    """A failure inside the import's write (after its rows were inserted or registered) rolls
    everything back: no row, no rollup sum, no import record, no stray Parquet file."""
    from core.spend.imports import commit
    from core.spend.imports.importer import import_file

    ws = open_workspace()
    csv = usage_csv(tmp_path / "fails.csv", 2_000)
    files_before = set(Path(ws.data_path).rglob("*.parquet"))
    real = commit.commit_import

    def failing(*args, **kwargs):
        def then(cur):
            assert cur.execute("select count(*) from ledger").fetchone()[0] == 2_000  # inserted...
            raise OSError("disk full")  # ...then the write fails

        return real(*args, **{**kwargs, "then": then, "short_lock_rows": short_lock_rows})

    monkeypatch.setattr("core.spend.imports.importer.commit_import", failing)
    with pytest.raises(OSError, match="disk full"):
        import_file(ws, csv, "generic")
    cur = ws.cursor()
    assert cur.execute("select count(*) from ledger").fetchone()[0] == 0
    assert cur.execute("select count(*) from ledger_daily").fetchone()[0] == 0
    assert cur.execute("select count(*) from ledger_imports").fetchone()[0] == 0
    assert set(Path(ws.data_path).rglob("*.parquet")) == files_before
    monkeypatch.undo()
    assert import_file(ws, csv, "generic").rows_added == 2_000  # and it can be done again
    check_ledger(ws, {f"req:imp-{i}" for i in range(2_000)})

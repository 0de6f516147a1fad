"""The store from the outside: commands beside a process that holds the workspace, an unreachable
team store (a clear message and exit 3, never a traceback or a password), locations, the lock."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from core.errors import StoreUnavailableError
from core.settings import REPO_ROOT
from core.spend.ledger import record_calls
from core.workspace import Workspace, open_workspace
from core.workspace.location import resolve
from core.workspace.writes import FileLock, is_retryable
from tests.helpers.processes import start

UNREACHABLE = "postgresql://ana:s3cr3t-pw@127.0.0.1:9/tradeoff?data_path=/tmp/nowhere&connect_timeout=3"
DATA = REPO_ROOT / "tests" / "data" / "ledger"


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_commands_run_while_other_processes_use_the_workspace(workspace_path, tmp_path):
    """The single-file store exited 3 ("locked") here: the console held the file. Now an
    import, a report and a gateway-like writer run beside this process and a reader."""
    ws = open_workspace(workspace_path)  # this process plays the console
    record_calls(ws, pd.DataFrame({"call_id": ["console"], "ts": [pd.Timestamp("2026-03-05")],
                                   "model": ["m"], "cost_usd": [1.0]}))
    reader = start("read", "6", wait=False)
    writer = start("spool", "gw", "6", "20", wait=False)
    res = cli("ledger", "import", str(DATA / "litellm_spendlogs.csv"), "--format", "litellm")
    assert res.returncode == 0, res.stderr
    assert "3 added" in res.stdout
    out = tmp_path / "r.csv"
    res = cli("report", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "csv", "--out", str(out))
    assert res.returncode == 0, res.stderr
    reader.finish()
    writer.finish()
    total = pd.read_csv(out)
    assert float(total.loc[total["section"] == "total", "cost_usd"].iloc[0]) == pytest.approx(
        1.0 + 0.00123 + 0.000214)
    assert ws.cursor().execute("select count(*) from ledger").fetchone()[0] == 1 + 3 + 120


def test_an_unreachable_team_store_is_exit_3_with_a_message(tmp_path):
    res = cli("ledger", "import", str(DATA / "litellm_spendlogs.csv"), "--format", "litellm",
              env={"TRADEOFF_STORE": UNREACHABLE})
    assert res.returncode == 3
    assert "Cannot reach the team store postgresql://ana@127.0.0.1:9/tradeoff" in res.stderr
    assert "PostgreSQL server is running" in res.stderr
    assert "s3cr3t-pw" not in res.stderr and "Traceback" not in res.stderr
    res = cli("store", "health", "--json", env={"TRADEOFF_STORE": UNREACHABLE})
    assert res.returncode == 3 and "s3cr3t-pw" not in res.stderr + res.stdout


def test_store_health_reports_the_spool(workspace_path):
    res = cli("store", "health", "--json")
    assert res.returncode == 0, res.stderr
    health = json.loads(res.stdout)
    assert health["reachable"] and health["ok"] and health["spool"]["rows"] == 0


def test_locations():
    loc = resolve("postgresql://u:p%40ss@db:5433/led?sslmode=require&data_path=/d&schema=s")
    assert loc.conninfo == "dbname=led host=db port=5433 user=u password=p@ss sslmode=require"
    assert loc.label == "postgresql://u@db:5433/led?sslmode=require&schema=s" and "p@ss" not in loc.key
    assert resolve("/x/ws").root.as_posix() == "/x/ws" and resolve("/x/ws").legacy_file is None
    env = {"TRADEOFF_STORE": "/a/store", "TRADEOFF_WORKSPACE": "/b/old.duckdb"}
    assert resolve(environ=env).root.as_posix() == "/a/store"  # TRADEOFF_STORE wins
    assert resolve(environ={"TRADEOFF_WORKSPACE": "/b/old.duckdb"}).root.as_posix() == "/b/old"
    with pytest.raises(Exception, match="port"):
        resolve("postgresql://u@db:notaport/x")


def test_a_new_team_store_without_a_data_path_says_what_to_add(team_store):
    url = team_store.split("&data_path=")[0]  # the fixture's schema is fresh: a new lake
    with pytest.raises(StoreUnavailableError) as err:
        Workspace(url)
    assert "is new and needs a data path for its Parquet files: add ?data_path=" in str(err.value)


def test_the_write_lock_excludes_other_processes_and_dies_with_them(tmp_path):
    path = tmp_path / "lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from core.workspace.writes import FileLock; l = FileLock(sys.argv[1]); "
        "l.acquire(); print('held', flush=True); time.sleep(600)"), str(path)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(StoreUnavailableError, match="write lock"):
        FileLock(path, timeout=0.5).acquire()
    holder.kill()  # the OS releases a dead process's lock
    holder.wait()
    lock = FileLock(path, timeout=30)
    with lock, lock:  # re-entrant within a thread
        assert lock.last_wait < 30


def test_what_is_retried():
    import duckdb

    assert is_retryable(duckdb.TransactionException(
        "Failed to commit DuckLake transaction. | Transaction conflict - attempting to insert"))
    assert is_retryable(duckdb.Error("Failed to commit: database is locked"))
    assert not is_retryable(duckdb.ConstraintException("NOT NULL constraint failed"))
    assert not is_retryable(ValueError("database is locked"))

"""Issue 10's contract: the console open, two gateway workers under load and a large CLI import on
one workspace at the same time, embedded and in team mode. No error anywhere, no "locked", and
afterwards every answered call and every imported row is in the ledger exactly once; a report
taken while ``serve`` runs counts the gateway's calls.

(The same with a 2M-row import is ``python -m bench.bench_spool --import-rows 2000000``, recorded
in bench/RESULTS.md.)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.settings import REPO_ROOT
from tests.gateway.test_gateway_serve import POLICY, STARTED, kill_all, ledger, start, stop

IMPORT_ROWS = 60_000  # > the import's short-lock threshold: its rows go in as one Parquet file
SPEND_PAGE = str(REPO_ROOT / "app_pages" / "spend.py")


@pytest.fixture(autouse=True)
def _no_server_left_behind():
    yield
    while STARTED:
        kill_all(STARTED.pop())


@pytest.fixture(params=["embedded", "team"])
def store_env(request, tmp_path, monkeypatch) -> dict[str, str]:
    """The environment every process of the test shares (this one plays the console)."""
    if request.param == "team":
        pg = request.getfixturevalue("pg_server")
        env = {"TRADEOFF_STORE": pg.url("concurrency", tmp_path / "lake"),
               "TRADEOFF_SPOOL_DIR": str(tmp_path / "spool")}
    else:
        monkeypatch.delenv("TRADEOFF_STORE", raising=False)
        env = {"TRADEOFF_WORKSPACE": str(tmp_path / "ws.duckdb")}  # what `start` gives serve
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def cli(env: dict, *args: str, wait: bool = True):
    proc = subprocess.Popen([sys.executable, "-m", "core", *args], cwd=REPO_ROOT, text=True,
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc.communicate(timeout=600) + (proc.returncode,) if wait else proc


def test_console_two_workers_under_load_and_an_import_at_once(tmp_path, fake_llm_env, fake_llm, store_env):
    csv = tmp_path / "usage.csv"
    n = IMPORT_ROWS
    pd.DataFrame({"request_id": [f"imp-{i}" for i in range(n)],
                  "ts": pd.Timestamp("2026-04-01") + pd.to_timedelta(np.arange(n) * 7, unit="s"),
                  "model": np.where(np.arange(n) % 2 == 0, "small", "big"), "task": "import",
                  "cost_usd": np.round((np.arange(n) % 97) / 1e4, 6)}).to_csv(csv, index=False)
    chain = tmp_path / "chain.json"
    chain.write_text(json.dumps({"policy": POLICY}))
    proc = start(tmp_path, {**fake_llm_env, **store_env}, "--policy", str(chain), workers=2)

    answered: list[str] = []
    failures: list[str] = []
    stop_load = threading.Event()

    def load(n: int) -> None:
        with httpx.Client(timeout=30) as client:
            i = 0
            while not stop_load.is_set():
                i += 1
                r = client.post(proc.url + "/v1/chat/completions", json={
                    "model": "tradeoff/chain", "messages": [{"role": "user", "content": f"{n}-{i} answer: ok"}]})
                if r.status_code == 200:
                    answered.append(r.headers["x-tradeoff-request-id"])
                else:
                    failures.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=load, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        while len(answered) < 20:  # both workers serving
            assert proc.poll() is None and not failures, failures
            time.sleep(0.05)
        # ... and their calls reaching the ledger: the console then opens on real spend (an
        # empty ledger would get the synthetic demo, core.spend.demo, which is not the test's)
        deadline = time.monotonic() + 60
        while httpx.get(proc.url + "/health").json()["ledger_backlog"]["rows_committed"] < 1:
            assert time.monotonic() < deadline and proc.poll() is None, "no gateway call was committed"
            time.sleep(0.05)
        importer = cli(store_env, "ledger", "import", str(csv), "--format", "generic", wait=False)
        console_runs = 0
        while importer.poll() is None or console_runs < 2:  # the console, reading meanwhile
            at = AppTest.from_file(SPEND_PAGE, default_timeout=120).run()
            assert not at.exception, [e.value for e in at.exception]
            assert not at.error, [e.value for e in at.error]
            console_runs += 1
        out, err = importer.communicate()
        assert importer.returncode == 0, err
        assert f"{n:,} added" in out or f"{n} added" in out, out
    finally:
        stop_load.set()
        for t in threads:
            t.join()
    assert not failures, failures[:3]
    assert len(answered) > 20

    # every answered call committed (the gateway keeps running): the report counts them
    deadline = time.monotonic() + 60
    while (health := httpx.get(proc.url + "/health").json())["ledger_backlog"]["rows_committed"] \
            < len(fake_llm.calls) or health["store"]["state"] != "ok":
        assert time.monotonic() < deadline, health
        time.sleep(0.2)
    report = tmp_path / "report.csv"
    out, err, code = cli(store_env, "report", "--from", "2026-01-01", "--to", "2026-12-31",
                         "--format", "csv", "--out", str(report))
    assert code == 0, err
    sections = pd.read_csv(report)
    by_model = sections[sections["section"] == "model"].set_index("key")["rows"]
    assert by_model["gpt-4o-mini"] == len(fake_llm.calls)  # the gateway's calls, all of them
    assert by_model["small"] + by_model["big"] == n
    assert stop(proc) == 0

    rows = ledger(tmp_path, store_env.get("TRADEOFF_STORE"))
    assert len(rows) == rows["call_id"].nunique() == n + len(fake_llm.calls)  # nothing twice
    assert set(answered) <= set(rows["eval_run"].str.removeprefix("gw-"))  # nothing answered lost
    imported = rows[rows["source"] == "import"]
    assert len(imported) == n and set(imported["call_id"]) == {f"req:imp-{i}" for i in range(n)}

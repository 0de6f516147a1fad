"""``python -m core serve`` as a process: several workers, SIGKILL of a worker under load, SIGTERM
draining, a store that cannot be reached, bad command lines."""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from core.settings import REPO_ROOT
from tests.fixtures.app import free_port

STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_server_left_behind():
    """Whatever a test asserted, its servers and their workers are gone afterwards."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None or proc.returncode is not None:
            kill_all(proc)


POLICY = {"kind": "fallback", "models": ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"]}


def start(tmp_path, env, *args, workers: int = 1, wait: bool = True):
    port = free_port()
    with open(tmp_path / f"serve-{port}.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "core", "serve", "--port", str(port),
                                 "--workers", str(workers), "--drain", "5", "--timeout", "5", *args],
                                cwd=REPO_ROOT, env={**os.environ, **env,
                                                    "TRADEOFF_WORKSPACE": str(tmp_path / "ws.duckdb")},
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    proc.url, proc.log_path = f"http://127.0.0.1:{port}", tmp_path / f"serve-{port}.log"
    STARTED.append(proc)
    deadline = time.monotonic() + 60
    while wait:
        try:
            if httpx.get(proc.url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            kill_all(proc)
            raise RuntimeError(f"serve did not start: {proc.log_path.read_text()[-2000:]}")
        time.sleep(0.1)
    return proc


def kill_all(proc) -> None:
    """SIGKILL the server and its workers (its own process group), whatever state it is in."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def stop(proc, sig=signal.SIGTERM, timeout: float = 60) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    finally:
        kill_all(proc)  # workers left behind, if any


def ask(url: str, text: str, model: str = "tradeoff/chain", timeout: float = 20) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", timeout=timeout,
                      json={"model": model, "messages": [{"role": "user", "content": text}]})


def ledger(tmp_path):
    con = duckdb.connect(str(tmp_path / "ws.duckdb"))
    try:
        return con.execute("select * from ledger").df()
    finally:
        con.close()


def request_ids(frame) -> set[str]:
    return set(frame["eval_run"].str.removeprefix("gw-"))


@pytest.fixture
def chain_file(tmp_path):
    path = tmp_path / "chain.json"
    path.write_text(json.dumps({"policy": POLICY}))
    return path


def test_sigkill_of_a_worker_under_load_loses_no_answered_call(tmp_path, fake_llm_env, fake_llm, chain_file):
    proc = start(tmp_path, fake_llm_env, "--policy", str(chain_file), workers=2)
    answered: list[str] = []
    stop_load = threading.Event()

    def load(n):
        with httpx.Client(timeout=10) as client:
            i = 0
            while not stop_load.is_set():
                i += 1
                try:
                    r = client.post(proc.url + "/v1/chat/completions", json={
                        "model": "tradeoff/chain", "messages": [{"role": "user", "content": f"{n}-{i} answer: ok"}]})
                except httpx.HTTPError:
                    continue  # the killed worker's connections drop: not answered
                if r.status_code == 200:
                    answered.append(r.headers["x-tradeoff-request-id"])

    threads = [threading.Thread(target=load, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while len(answered) < 30:  # both workers warm and serving
            assert time.monotonic() < deadline, "no load got through"
            time.sleep(0.1)
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        workers = [int(p) for p in children
                   if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
        assert len(workers) == 2, children
        # the worker with rows in an open spool segment (named by its pid) is the one to kill
        spool = tmp_path / "ws.duckdb.gateway" / "spool"
        busy = [w for w in workers if any(spool.glob(f"{w}-*.open"))]
        assert busy, sorted(p.name for p in spool.iterdir())
        os.kill(busy[0], signal.SIGKILL)
        time.sleep(2.0)  # the supervisor replaces it; load goes on
    finally:
        stop_load.set()
        for t in threads:
            t.join()
        code = stop(proc)
    assert code == 0
    recovered = re.search(r"(\d+) segment\(s\) of dead workers recovered", proc.log_path.read_text())
    assert int(recovered.group(1)) >= 1  # the killed worker's open segment was taken over
    rows = ledger(tmp_path)
    assert len(answered) > 20
    assert set(answered) <= request_ids(rows)  # every answered call is in the ledger
    assert len(rows) == rows["call_id"].nunique()
    assert len(rows) <= len(fake_llm.calls)  # at most the requests the provider saw
    assert len(fake_llm.calls) - len(rows) <= 6  # ... and only in-flight ones are missing


def test_sigterm_drains_in_flight_requests(tmp_path, fake_llm_env, fake_llm, chain_file):
    proc = start(tmp_path, fake_llm_env, "--policy", str(chain_file))
    fake_llm.latency = 2.0
    result = {}
    thread = threading.Thread(target=lambda: result.update(r=ask(proc.url, "slow answer: done")))
    thread.start()
    deadline = time.monotonic() + 30
    while fake_llm.count() == 0:  # wait until the request is with the provider (it holds it 2 s)
        assert time.monotonic() < deadline, "the request never reached the provider"
        time.sleep(0.01)
    assert stop(proc) == 0
    thread.join()
    assert result["r"].status_code == 200 and result["r"].json()["choices"][0]["message"]["content"] == "done"
    assert request_ids(ledger(tmp_path)) == {result["r"].headers["x-tradeoff-request-id"]}
    assert "gateway stopped: 1 row(s) committed" in proc.log_path.read_text()


def test_an_unreachable_store_still_serves_and_catches_up(tmp_path, fake_llm_env, fake_llm, chain_file):
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                               f"c = duckdb.connect({str(tmp_path / 'ws.duckdb')!r}); print('held', flush=True); "
                               "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    proc = start(tmp_path, fake_llm_env, "--policy", str(chain_file))
    try:
        ids = [ask(proc.url, f"q{i} answer: {i}").headers["x-tradeoff-request-id"] for i in range(5)]
        deadline = time.monotonic() + 30
        # the agent's first commit attempt fails, and the answered calls' segment is sealed (0.5 s)
        while ((health := httpx.get(proc.url + "/health").json())["store"]["state"] != "unreachable"
               or health["ledger_backlog"]["segments"] < 1):
            assert time.monotonic() < deadline, health
            time.sleep(0.1)
        assert health["status"] == "degraded" and health["store"]["state"] == "unreachable"
        assert "lock" in health["store"]["error"].lower()
        assert health["ledger_backlog"]["segments"] >= 1
        holder.stdin.close()
        holder.wait(timeout=10)
        deadline = time.monotonic() + 60
        while httpx.get(proc.url + "/health").json()["store"]["state"] != "ok":
            assert time.monotonic() < deadline, "the store never came back"
            time.sleep(0.2)
    finally:
        holder.kill()
        assert stop(proc) == 0
    rows = ledger(tmp_path)
    assert request_ids(rows) == set(ids)
    assert len(rows) == len(fake_llm.calls) == 5


def test_bad_command_lines_exit_2_with_one_line(tmp_path, workspace_path, capsys):
    from core.cli import main

    bad = tmp_path / "oracle.json"
    bad.write_text(json.dumps({"kind": "oracle"}))
    unprefixed = tmp_path / "plain.json"
    unprefixed.write_text(json.dumps({"kind": "single", "model": "small"}))
    for args, message in [(["--policy", str(bad)], "cannot serve live traffic"),
                          (["--policy", str(unprefixed)], "must be PROVIDER:MODEL"),
                          (["--policy", str(tmp_path / "missing.json")], "cannot read the policy file"),
                          (["--workers", "0"], "--workers must be between 1 and 64"),
                          (["--timeout", "0"], "--timeout must be positive")]:
        assert main(["serve", "--port", str(free_port()), *args]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err

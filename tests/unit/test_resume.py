"""Kill ``python -m core run`` midway (SIGKILL) and run it again: no answered call is made twice,
none is lost, and RESULTS.csv and the ledger hold every call exactly once."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from core.settings import REPO_ROOT
from tests.helpers.fake_llm_server import FakeLLMServer

ROOT = REPO_ROOT
MODELS = "openai:resume-a,local:resume-b"  # two providers, one SDK import
N_ITEMS, N_FAST = 24, 12


@pytest.fixture
def server():
    srv = FakeLLMServer(latency=0.03).start()
    yield srv
    srv.stop()


def _inputs(path: Path) -> Path:
    labels = ["spam", "ham"]
    rows = [{"item_id": f"m{i}", "label": labels[i % 2], "task": "filter",
             # The second half is marked so the server can hold those calls while we kill.
             "input": f"Message {i}{' [slow]' if i >= N_FAST else ''} answer: {labels[i % 2]}"}
            for i in range(N_ITEMS)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _command(inputs: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "core", "run", str(inputs), "--models", MODELS, "--out", str(out),
            "--concurrency", "4"]


def _saved(stderr: Path) -> int:
    found = re.findall(r"saved (\d+)", stderr.read_text(errors="replace"))
    return max(map(int, found)) if found else 0


def test_killed_run_resumes_without_repeating_or_losing_calls(server, tmp_path):
    env = dict(os.environ, **server.env(), TRADEOFF_WORKSPACE=str(tmp_path / "ws.duckdb"))
    inputs, out = _inputs(tmp_path / "inputs.csv"), tmp_path / "RESULTS.csv"
    # Every call for a marked item hangs at the server: they are in flight when we kill.
    server.script("timeout", contains="[slow]", times=-1, hang=600)
    stderr = tmp_path / "first.stderr"
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(_command(inputs, out), cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 90
        # Wait until every fast call is answered AND written (the runner reports what it saved).
        while _saved(stderr) < 2 * N_FAST:
            assert proc.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    first_calls = server.calls
    assert sum(c["status"] == 200 for c in first_calls) == 2 * N_FAST
    server.reset()  # the hold is lifted: the rest can be answered now

    second = subprocess.run(_command(inputs, out), cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert f"{2 * N_FAST} from before" in second.stderr

    answered = Counter((c["provider"], c["model"], c["prompt_hash"])
                       for c in first_calls + server.calls if c["status"] == 200)
    assert len(answered) == 2 * N_ITEMS and set(answered.values()) == {1}

    results = pd.read_csv(out)
    assert len(results) == 2 * N_ITEMS
    assert not results.duplicated(["item_id", "model"]).any()
    assert results["prediction"].notna().all() and (results["score"] == 1.0).all()
    assert (results["input_tokens"] > 0).all() and results["latency_ms"].notna().all()
    from core.evaluation.loading import load_csv

    reloaded = load_csv(out)  # RESULTS.csv is a long eval set every page can load
    assert reloaded.models == ("local:resume-b", "openai:resume-a") and reloaded.n_items == N_ITEMS

    from core.workspace import Workspace

    ws = Workspace(tmp_path / "ws.duckdb")
    try:
        rows = ws.cursor().execute(
            "select count(*), count(distinct call_id), count(distinct eval_run) from ledger"
            " where status = 'ok'").fetchall()[0]
        calls = ws.cursor().execute(
            "select count(*), count(*) filter (where status = 'ok') from run_calls").fetchall()[0]
        status = ws.cursor().execute("select status from runs").fetchall()
    finally:
        ws.close()
    assert rows == (2 * N_ITEMS, 2 * N_ITEMS, 1)
    assert calls == (2 * N_ITEMS, 2 * N_ITEMS)
    assert status == [("finished",)]


def _held(server, concurrency: int = 4) -> bool:
    """Every fast call answered, and every worker waiting on a held ([slow]) call: each worker
    sends its next request only after it has recorded the answer before it."""
    calls = server.calls
    answered = sum(c["status"] == 200 for c in calls)
    waiting = sum(c["status"] is None and "[slow]" in c["user"] for c in calls)
    return answered == 2 * N_FAST and waiting == concurrency


def _start_and_hold(server, tmp_path, name: str):
    env = dict(os.environ, **server.env(), TRADEOFF_WORKSPACE=str(tmp_path / "ws.duckdb"))
    inputs, out = _inputs(tmp_path / "inputs.csv"), tmp_path / "RESULTS.csv"
    server.script("timeout", contains="[slow]", times=-1, hang=600)
    stderr = tmp_path / f"{name}.stderr"
    err = open(stderr, "wb")  # noqa: SIM115 - closed by the caller
    proc = subprocess.Popen(_command(inputs, out), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=err)
    deadline = time.monotonic() + 120
    while not _held(server):
        assert proc.poll() is None, stderr.read_text()
        assert time.monotonic() < deadline, stderr.read_text()
        time.sleep(0.01)
    return proc, err, stderr, env, inputs, out


def _rerun_answers_the_rest_once(server, first_calls, env, inputs, out) -> subprocess.CompletedProcess:
    server.reset()  # the hold is lifted
    second = subprocess.run(_command(inputs, out), cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=180)
    assert second.returncode == 0, second.stderr
    answered = Counter((c["provider"], c["model"], c["prompt_hash"])
                       for c in first_calls + server.calls if c["status"] == 200)
    assert len(answered) == 2 * N_ITEMS
    assert set(answered.values()) == {1}, [k for k, n in answered.items() if n > 1]
    results = pd.read_csv(out)
    assert len(results) == 2 * N_ITEMS and (results["score"] == 1.0).all()
    return second


def test_sigkill_right_after_answers_arrive_loses_none_of_them(server, tmp_path):
    """The kill comes as soon as the last fast answer is in, without waiting for a bulk write:
    answers are saved as they arrive, so the rerun asks only for the calls that were in flight."""
    proc, err, stderr, env, inputs, out = _start_and_hold(server, tmp_path, "killed")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    err.close()
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    second = _rerun_answers_the_rest_once(server, server.calls, env, inputs, out)
    assert f"{2 * N_FAST} from before" in second.stderr


def test_sigterm_stops_like_ctrl_c_and_writes_the_results(server, tmp_path):
    proc, err, stderr, env, inputs, out = _start_and_hold(server, tmp_path, "terminated")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)  # the held calls get the cancel grace period, then the run stops
    err.close()
    text = stderr.read_text()
    assert proc.returncode == 1, text
    assert "terminated: finishing the calls in flight" in text and "Traceback" not in text
    results = pd.read_csv(out)  # written, with what was answered before the signal
    assert len(results) == 2 * N_FAST and results["prediction"].notna().all()
    second = _rerun_answers_the_rest_once(server, server.calls, env, inputs, out)
    assert f"{2 * N_FAST} from before" in second.stderr

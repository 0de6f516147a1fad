"""``python -m core run INPUTS.csv --models PROVIDER:MODEL,... --out RESULTS.csv [--concurrency N]``

Keys and base URLs come from the environment (DESIGN.md): ``ANTHROPIC_API_KEY``,
``OPENAI_API_KEY``, ``GEMINI_API_KEY`` and ``ANTHROPIC_BASE_URL``, ``OPENAI_BASE_URL``,
``GEMINI_BASE_URL``, ``LOCAL_BASE_URL``. The run id is derived from the inputs' content and the
models (or given: ``--run-id``, e.g. one per week for scheduled re-runs; ``--no-cache`` calls
every model afresh), so running the same command again after a crash continues where it stopped:
no answered call is made twice: every answer is journaled as it arrives, so even a SIGKILL loses only the
calls in flight. Ctrl-C and SIGTERM stop cleanly: the calls in flight finish, RESULTS.csv is
written with what was answered, and the exit code is 1. Exit codes: 0 every call answered,
1 some calls failed or the run was stopped (RESULTS.csv is still written), 2 bad input (one
line on stderr), 3 workspace locked.
"""
from __future__ import annotations

import hashlib
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError
from core.exports import write_csv
from core.settings import PROVIDERS, env_text

RESULT_COLUMNS = ["item_id", "model", "input", "task", "label", "output", "prediction", "score",
                  "confidence", "input_tokens", "output_tokens", "cached_input_tokens", "cost_usd",
                  "latency_ms"]


def env_keys_and_urls(providers: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Keys and base URLs for ``providers`` from the environment (or the keys module).

    Raises InputError naming the variable to set; the message never contains a key.
    """
    keys, urls = {}, {}
    missing = []
    for provider in providers:
        key = _resolve_key(provider)
        if key:
            keys[provider] = key
        elif PROVIDERS[provider].key_required:
            missing.append(f"{provider} (set {PROVIDERS[provider].key_env[0]})")
        url = env_text(PROVIDERS[provider].url_env)
        if url:
            urls[provider] = url
    if missing:
        raise InputError(f"no API key for {', '.join(missing)}")
    return keys, urls


def _resolve_key(provider: str) -> str | None:
    from core.live.keys import resolve_key

    return resolve_key(provider)


def cli_run_id(inputs: bytes, models: list[str]) -> str:
    """Same inputs and models -> same run id, so rerunning the command resumes it."""
    digest = hashlib.sha256(inputs + b"\x00" + ",".join(models).encode()).hexdigest()
    return f"cli-{digest[:16]}"


def results_csv(run) -> pd.DataFrame:
    """The run as a long eval set with the item columns and every field DESIGN.md lists."""
    frame = run.results_frame()
    items = run.evalset.items.reset_index(drop=True)
    idx = frame["idx"].to_numpy(dtype=np.int64)
    out = pd.DataFrame({"item_id": items["item_id"].to_numpy(dtype=object)[idx],
                        "model": frame["model"].to_numpy(dtype=object)})
    for col in ("input", "task", "label"):
        out[col] = items[col].to_numpy(dtype=object)[idx] if col in items else None
    for col in RESULT_COLUMNS[5:]:
        out[col] = frame[col].to_numpy()
    meta = [c for c in items.columns if c not in ("item_id", "input", "task", "label")]
    for col in meta:
        out[col] = items[col].to_numpy(dtype=object)[idx]
    order = np.lexsort((out["model"].to_numpy(dtype=str), idx))
    return out.iloc[order].reset_index(drop=True)


def run_cli(inputs_path, models: list[str], out_path, concurrency: int = 8,
            run_id: str | None = None, cache: bool = True) -> int:
    from core.evaluation.loading import load_csv
    from core.live.cache import CacheConfig
    from core.live.run import LiveRun, RunConfig
    from core.workspace import open_workspace

    if not models:
        raise InputError("--models is empty: give PROVIDER:MODEL,...")
    if concurrency < 1:
        raise InputError(f"--concurrency must be at least 1, got {concurrency}")
    path = Path(inputs_path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    raw = path.read_bytes()
    evalset = load_csv(raw, name=path.name)
    from core.live.providers import parse_model_id

    providers = sorted({parse_model_id(m)[0] for m in models})
    keys, urls = env_keys_and_urls(providers)
    if run_id is not None and not run_id.strip():
        raise InputError("--run-id is empty: give a name, e.g. weekly-2026-W49")
    ws = open_workspace()
    config = RunConfig(concurrency=concurrency, cache=CacheConfig(enabled=cache))
    run = LiveRun(ws, evalset, models, config, name=path.name,
                  run_id=run_id.strip() if run_id else cli_run_id(raw, models), keys=keys,
                  base_urls=urls)
    printer = StderrProgress()
    cancel = threading.Event()

    def on_stop(signum, frame):  # Ctrl-C or SIGTERM: stop cleanly, keep every finished call
        name = "terminated" if signum == signal.SIGTERM else "interrupted"
        print(f"{name}: finishing the calls in flight, then writing {out_path} "
              "(send it again to abort; the answers so far are saved either way)",
              file=sys.stderr, flush=True)
        cancel.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, on_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = run.run(progress=printer, cancel=cancel)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    printer.done(result.progress)
    frame = results_csv(run)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(frame, out)
    print(f"wrote {out} ({len(frame)} rows; run {run.run_id}, {result.status})", file=sys.stderr)
    if result.status == "cancelled":
        return 1
    if result.progress.failed:
        reason = _first_error(run)
        print(f"error: {result.progress.failed} call(s) failed"
              + (f"; first: {reason}" if reason else "")
              + "; rerun the same command to retry them", file=sys.stderr)
        return 1
    return 0


def _first_error(run) -> str | None:
    from core.live.store import run_calls

    calls = run_calls(run.ws, run.run_id)
    bad = calls[~calls["status"].isin(("ok", "cached"))]
    if bad.empty:
        return None
    return str(bad["error_message"].dropna().iloc[0]) if bad["error_message"].notna().any() else \
        str(bad["status"].iloc[0])


class StderrProgress:
    """One line per second on stderr (and one per batch written, with the saved count)."""

    def __init__(self):
        self.last = 0.0
        self.last_saved = -1

    def __call__(self, progress) -> None:
        now = time.monotonic()
        if progress.saved != self.last_saved or now - self.last >= 1.0:
            self.last, self.last_saved = now, progress.saved
            print(f"progress: {progress.line()}", file=sys.stderr, flush=True)

    def done(self, progress) -> None:
        print(f"progress: {progress.line()} [{progress.status}]", file=sys.stderr, flush=True)

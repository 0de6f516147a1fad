"""Runs that outlive a page: a background thread with its own event loop, per server process.

A page starts a run and keeps only its id; any later rerun, or another tab, finds it again::

    handle = start_background(LiveRun(ws, evalset, models, config))
    active_run(handle.run_id).progress.line()   # '12/40 done (12 ok, ...)'
    handle.cancel()                               # stops cleanly; finished calls are kept

Closing the browser tab does not stop the thread: the run goes on in the server and the page
shows it again when reopened.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from core.live.keys import redact
from core.live.run import LiveRun
from core.live.types import Progress, RunResult

_ACTIVE: dict[str, RunHandle] = {}
_LOCK = threading.Lock()


@dataclass
class RunHandle:
    run_id: str
    name: str
    models: list[str]
    progress: Progress
    cancel_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    result: RunResult | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()

    def cancel(self) -> None:
        self.cancel_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self.thread is not None:
            self.thread.join(timeout)
        return self.done


def start_background(run: LiveRun) -> RunHandle:
    """Start ``run`` in a daemon thread (or return the handle if it is already running)."""
    with _LOCK:
        existing = _ACTIVE.get(run.run_id)
        if existing is not None and not existing.done:
            return existing
        total = len(run.evalset.items) * len(run.models)
        handle = RunHandle(run.run_id, run.name, list(run.models), Progress(total=total))

        def update(progress: Progress) -> None:
            handle.progress = progress

        def target() -> None:
            try:
                handle.result = run.run(progress=update, cancel=handle.cancel_event)
                handle.progress = handle.result.progress
            except Exception as exc:  # shown on the page; keys are scrubbed from the message
                handle.error = redact(f"{type(exc).__name__}: {exc}", extra=run.secrets())

        handle.thread = threading.Thread(target=target, name=f"live-run-{run.run_id}", daemon=True)
        _ACTIVE[run.run_id] = handle
        handle.thread.start()
        return handle


def active_run(run_id: str) -> RunHandle | None:
    with _LOCK:
        return _ACTIVE.get(run_id)


def running_ids() -> list[str]:
    """Ids of runs whose thread is alive in this server process."""
    with _LOCK:
        return [rid for rid, h in _ACTIVE.items() if not h.done]

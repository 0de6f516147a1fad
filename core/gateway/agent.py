"""The store agent: the one thread per server that talks to the workspace.

Every ``interval_s`` it opens the store, commits the spooled call rows to the ledger (one
transaction for everything waiting, at most ``max_rows`` rows), republishes what is deployed
when the deployments changed (``deployments.json``, which workers reload without a restart) and
writes ``status.json`` (the store's state and the ledger backlog, shown by ``/health``); then it
closes the store, so CLI imports and reports take their turn on a single-writer workspace.

When the store cannot be reached (locked by another process, a missing disk, a server down),
rows stay in the spool, requests are still served with the last published deployments, and the
status says ``unreachable`` with the reason until a later cycle gets through.

Hooks: ``observers`` are called as ``observer(ws, frame)`` with every committed batch inside the
cycle's store session (the place where 70/90/100% budget crossings are detected from the ledger
writes); an observer's failure is logged and never loses rows. ``hooks`` are objects with ``cycle(ws)``
(called every cycle the store answers, after the commit: :class:`core.gateway.watch.BudgetWatch`
computes budget state and alerts there) and ``close()`` (on stop, before the last commits).

Swapping the store layer (a many-writer store with its own ledger writer) changes
:meth:`StoreAgent.commit` only.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from core.errors import InputError
from core.gateway.deployments import (
    current_deployments,
    deploy_policy,
    deployments_version,
    saved_policies,
)
from core.gateway.experiment_agent import ExperimentControl
from core.gateway.runtime import write_json
from core.gateway.spool import backlog, claim_segments
from core.live.keys import redact
from core.pricing.edits import load_edits
from core.routing.policies import Policy
from core.spend.ledger import record_calls
from core.workspace import Workspace

log = logging.getLogger("tradeoff.gateway")
Observer = Callable[[Workspace, pd.DataFrame], None]


def open_store(path: Path, tries: int = 10) -> Workspace:
    """A private handle on the workspace. Another thread of this process attaching the same file
    at the same instant makes DuckDB refuse for a moment: that is retried, other errors are not."""
    for attempt in range(tries):
        try:
            return Workspace(path)
        except duckdb.Error as exc:
            if "handle conflict" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


class StoreAgent:
    def __init__(self, workspace_path: str | Path, runtime: Path, interval_s: float = 0.5,
                 max_rows: int = 5000, poll_every: int = 2,
                 file_policies: dict[str, tuple[Policy, dict[str, Any], str]] | None = None,
                 observers: list[Observer] | None = None, hooks: list[Any] | None = None):
        self.workspace_path = Path(workspace_path)
        self.runtime = runtime
        self.spool = runtime / "spool"
        self.interval_s = interval_s
        self.max_rows = max_rows
        self.poll_every = max(1, poll_every)
        self.observers = list(observers or [])
        self.hooks = list(hooks or [])
        self.file_policies = dict(file_policies or {})
        self._pending_files = dict(self.file_policies)  # deployed to the store once it answers
        self._version: str | None = None
        self._published: dict[str, Any] | None = None
        self._cycle = 0
        self.rows_written = 0
        self.orphans_recovered = 0
        self.store_state = "starting"
        self.store_error: str | None = None
        self.last_commit: str | None = None
        self.experiments = ExperimentControl(self.workspace_path, runtime)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- one cycle --------------------------------------------------------------------------
    def cycle(self, force_poll: bool = False) -> int:
        """Flush and (every ``poll_every`` cycles) poll; returns the rows committed."""
        with self._lock:
            self._cycle += 1
            committed = 0
            try:
                ws = open_store(self.workspace_path)
            except Exception as exc:  # locked, unreadable, gone: keep spooling
                self._unreachable(exc)
                self.publish_if_needed(None)
                self.write_status()
                return 0
            try:
                committed = self.commit(ws)
                if force_poll or self._cycle % self.poll_every == 1 or self._published is None:
                    self.publish_if_needed(ws)
                served = set((self._published or {}).get("deployments") or {}) or None
                try:
                    self.experiments.cycle(ws, served, force=force_poll)
                except Exception:  # experiments must never stop the ledger's commits
                    log.exception("live experiments cycle failed")
                for hook in self.hooks:
                    try:
                        hook.cycle(ws)
                    except Exception:  # a hook must never stop commits
                        log.exception("store agent hook %s failed", type(hook).__name__)
                self.store_state, self.store_error = "ok", None
            except Exception as exc:
                self._unreachable(exc)
            finally:
                ws.close()
            self.write_status()
            return committed

    def commit(self, ws: Workspace) -> int:
        """Commit waiting spool rows to the ledger (idempotent by call_id); returns rows added."""
        total = 0
        while True:
            claim = claim_segments(self.spool, self.max_rows)
            if claim.orphans:
                self.orphans_recovered += claim.orphans
                log.warning("recovered %d spool segment(s) of a worker that died", claim.orphans)
            if not claim.paths:
                return total
            ok = False
            try:
                if claim.rows:
                    frame = pd.DataFrame(claim.rows)
                    total += record_calls(ws, frame)
                    self.last_commit = datetime.now(UTC).isoformat(timespec="seconds")
                    for observer in self.observers:
                        try:
                            observer(ws, frame)
                        except Exception:  # a hook must never cost a row
                            log.exception("ledger observer failed")
                ok = True
            finally:
                claim.release(committed=ok)
            self.rows_written += len(claim.rows)
            if len(claim.rows) < self.max_rows:
                return total

    def publish_if_needed(self, ws: Workspace | None) -> None:
        """Write deployments.json when the store's deployments changed (or first, from files)."""
        if ws is not None:
            for name, (policy, options, source) in list(self._pending_files.items()):
                deploy_policy(ws, name, policy, source=source, options=options)
                del self._pending_files[name]
            prices = [dataclasses.asdict(p) for p in load_edits(ws)]
            version = f"{deployments_version(ws)}|{hash(repr(prices))}"
            if version == self._version and self._published is not None:
                return
            served = {**saved_policies(ws), **current_deployments(ws)}
            self._version = version
        elif self._published is not None:
            return
        else:  # no store yet: serve the files given at start
            served, prices, version = {}, [], "files"
        for name, (policy, options, source) in self.file_policies.items():
            if name not in served:
                served[name] = {"spec": policy.to_dict(), "options": options, "revision": "file",
                                "source": source, "policy_id": None}
        self._published = {"version": version, "deployments": served, "prices": prices}
        write_json(self.runtime / "deployments.json", self._published)

    def _unreachable(self, exc: BaseException) -> None:
        message = redact(" ".join(str(exc).split()))[:300]
        if isinstance(exc, InputError):
            log.error("gateway store agent: %s", message)
        if self.store_state != "unreachable":
            log.warning("store unreachable, calls stay spooled: %s", message)
        self.store_state, self.store_error = "unreachable", f"{type(exc).__name__}: {message}"

    def status(self) -> dict[str, Any]:
        segments, size = backlog(self.spool)
        return {"store": self.store_state, "store_error": self.store_error,
                "backlog_segments": segments, "backlog_bytes": size,
                "rows_committed": self.rows_written, "last_commit": self.last_commit,
                "orphaned_segments_recovered": self.orphans_recovered,
                "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "deployments_version": self._version}

    def write_status(self) -> None:
        try:
            write_json(self.runtime / "status.json", self.status())
        except OSError:
            log.exception("cannot write the gateway status file")

    # -- the thread -------------------------------------------------------------------------
    def start(self) -> StoreAgent:
        self._thread = threading.Thread(target=self._run, name="tradeoff-store-agent", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.cycle()
            except Exception:
                log.exception("gateway store agent cycle failed")
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def stop(self, drain_s: float = 10.0) -> None:
        """Stop the thread, then commit what is left (trying for up to ``drain_s`` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for hook in self.hooks:
            try:
                hook.close()
            except Exception:
                log.exception("store agent hook %s failed to close", type(hook).__name__)
        deadline = time.monotonic() + drain_s
        while True:
            self.cycle()
            if backlog(self.spool)[0] == 0 or time.monotonic() >= deadline:
                return
            time.sleep(0.2)

"""The store agent: the one thread per server that talks to the workspace.

Every ``interval_s`` it commits the spooled call rows to the ledger through the store's one
ledger-writing path (:meth:`core.spend.writer.LedgerWriter.commit_spooled`: one write per batch
of segments, each segment recorded in the same transaction so a re-flush adds nothing, open
segments of dead workers adopted), republishes what is deployed when the deployments changed
(``deployments.json``, which workers reload without a restart) and writes ``status.json`` (the
store's state and the ledger backlog, shown by ``/health``). The workspace stays attached: the
store has many writers, so CLI imports, reports and the console work beside it.

When the store cannot be reached (a catalog server down, a missing disk), rows stay in the
spool, requests are still served with the last published deployments, and the status says
``unreachable`` with the reason until a later cycle gets through.

Hooks: ``observers`` are called as ``observer(ws, frame)`` with every committed batch (the place
where 70/90/100% budget crossings are detected from the ledger writes); an observer's failure
is logged and never loses rows. ``hooks`` are objects with ``cycle(ws)`` (called every cycle
the store answers, after the commit: :class:`core.gateway.watch.BudgetWatch` computes budget
state and alerts there) and ``close()`` (on stop, before the last commits).
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import InputError, describe
from core.gateway.deployments import (
    current_deployments,
    deploy_policy,
    deployments_version,
    saved_policies,
)
from core.gateway.experiment_agent import ExperimentControl
from core.gateway.runtime import write_json
from core.live.keys import redact
from core.pricing.edits import load_edits
from core.routing.policies import Policy
from core.spend.spool import CLOSED, OPEN, Spool
from core.spend.writer import LedgerWriter
from core.workspace import Workspace
from core.workspace.location import Location, resolve

log = logging.getLogger("tradeoff.gateway")
Observer = Callable[[Workspace, pd.DataFrame], None]


class StoreAgent:
    def __init__(self, workspace: Location | str | Path | None, runtime: Path, interval_s: float = 0.5,
                 max_rows: int = 5000, poll_every: int = 2,
                 file_policies: dict[str, tuple[Policy, dict[str, Any], str]] | None = None,
                 observers: list[Observer] | None = None, hooks: list[Any] | None = None):
        self.location = workspace if isinstance(workspace, Location) else resolve(workspace)
        self.runtime = runtime
        self.spool = self.location.spool_dir
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
        self.ws: Workspace | None = None
        self.writer: LedgerWriter | None = None
        self.rows_written = 0
        self.orphans_recovered = 0  # open segments of dead workers committed
        self.store_state = "starting"
        self.store_error: str | None = None
        self.last_commit: str | None = None
        self.experiments = ExperimentControl(self.location, runtime)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- one cycle --------------------------------------------------------------------------
    def _attach(self) -> Workspace:
        if self.ws is None:
            self.ws = Workspace(self.location)
            # no observer: no batch read back into pandas after each commit
            self.writer = LedgerWriter(self.ws, spool_dir=self.spool, background=False,
                                       on_batch=self._observe if self.observers else None)
        return self.ws

    def cycle(self, force_poll: bool = False) -> int:
        """Flush and (every ``poll_every`` cycles) poll; returns the rows committed."""
        with self._lock:
            self._cycle += 1
            committed = 0
            try:
                ws = self._attach()
            except Exception as exc:  # unreachable, unreadable, gone: keep spooling
                self._unreachable(exc)
                self.publish_if_needed(None)
                self.write_status()
                return 0
            try:
                # the cycle's cached reads (keys, budgets, deployments, prices, experiments) ask
                # the catalog for table versions once, and again only after the cycle writes
                with ws.versions_shared():
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
            self.write_status()
            return committed

    def commit(self, ws: Workspace) -> int:
        """Commit waiting spool rows to the ledger; returns rows added."""
        adopted = self.writer.adopted_segments
        try:
            added = self.writer.commit_spooled()
        finally:
            self.orphans_recovered += self.writer.adopted_segments - adopted
        if added:
            self.rows_written += added
            self.last_commit = datetime.now(UTC).isoformat(timespec="seconds")
        return added

    def _observe(self, frame: pd.DataFrame) -> None:
        for observer in self.observers:
            try:
                observer(self.ws, frame)
            except Exception:  # a hook must never cost a row
                log.exception("ledger observer failed")

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
        message = redact(" ".join(describe(exc, self.location.label).message.split()))[:300]
        if isinstance(exc, InputError):
            log.error("gateway store agent: %s", message)
        if self.store_state != "unreachable":
            log.warning("store unreachable, calls stay spooled: %s", message)
        self.store_state, self.store_error = "unreachable", f"{type(exc).__name__}: {message}"

    def status(self) -> dict[str, Any]:
        segments, size = backlog(self.spool)
        return {"store": self.store_state, "store_error": self.store_error,
                "backlog_segments": segments, "backlog_bytes": size,
                "backlog_rows": _backlog_rows(self.spool),
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
        try:
            if self.ws is not None:
                try:  # the rollout's announcements under way: finish them and note how they went
                    self.experiments.close(self.ws)
                except Exception:
                    log.exception("finishing the experiments' webhook deliveries failed")
            while True:
                self.cycle()
                if not Spool(self.spool).pending() or time.monotonic() >= deadline:
                    return  # (segments still open belong to live processes: theirs to close)
                time.sleep(0.2)
        finally:
            if self.ws is not None:
                self.ws.close()
                self.ws = self.writer = None


def backlog(directory: Path) -> tuple[int, int]:
    """(segments, bytes) waiting in the spool, open ones (workers appending) included."""
    n = size = 0
    if not Path(directory).is_dir():
        return 0, 0
    for path in Path(directory).iterdir():
        if path.suffix in (OPEN, CLOSED):
            with contextlib.suppress(OSError):
                size += path.stat().st_size
                n += 1
    return n, size


def _backlog_rows(directory: Path) -> int | None:
    try:
        return Spool(directory).backlog()["rows"]
    except OSError:
        return None

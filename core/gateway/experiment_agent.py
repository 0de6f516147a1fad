"""Live experiments in the store agent: feedback and shadow pairs in, rollout decisions out.

Each agent cycle (:class:`ExperimentControl.cycle`, inside the agent's store session):

1. commits the workers' spooled events (feedback, shadow pairs) in one bulk write each;
2. every ``decide_every_s``: judges each running experiment's current stage with the decision
   rule (:mod:`core.experiments.decision`) and applies the rollout (:mod:`core.experiments.rollout`):
   advance, or roll back to 0% at once on a breach. An experiment whose control or candidate
   policy is no longer served is paused. This runs in the gateway, so rules hold with the console
   closed;
3. delivers every transition not yet delivered (automatic or the PM's) to the experiment's
   webhooks from a background thread (:func:`send_transition`), and records how it went;
4. publishes ``experiments.json`` (shares, shadow budgets and today's shadow spend) for the
   workers, which reload it without a restart.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.experiments import live_data
from core.experiments.decision import evaluate
from core.experiments.live import (
    current_specs,
    record_delivery,
    record_feedback,
    record_pairs,
    save_spec,
    transitions,
)
from core.experiments.rollout import next_spec
from core.exports import json_safe
from core.gateway.events import take_events
from core.gateway.experiments import EXPERIMENTS_FILE
from core.gateway.runtime import write_json
from core.workspace import Workspace

log = logging.getLogger("tradeoff.gateway")


def send_transition(urls: list[str], payload: dict[str, Any], timeout_s: float = 5.0) -> str:
    """POST one transition to each webhook (two tries each); returns the delivery, for people.
    The one place transitions leave the product: the gateway's webhook sender replaces its body."""
    import httpx

    results = []
    for url in urls:
        outcome = "failed"
        for attempt in range(2):
            try:
                response = httpx.post(url, json=payload, timeout=timeout_s)
                outcome = f"HTTP {response.status_code}"
                if response.status_code < 500:
                    break
            except httpx.HTTPError as exc:
                outcome = f"failed ({type(exc).__name__})"
            time.sleep(0.2 * (attempt + 1))
        results.append(f"{masked(url)}: {outcome}")
    return "; ".join(results)


def masked(url: str) -> str:
    """A webhook URL as shown and recorded: scheme and host only (Slack's carry a token in the path)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}{':' + str(parts.port) if parts.port else ''}/..."


def transition_payload(row: dict[str, Any]) -> dict[str, Any]:
    evidence = json.loads(row["evidence_json"]) if isinstance(row.get("evidence_json"), str) else None
    return json_safe({"event": "experiment.transition", "experiment": row["experiment"],
            "action": row["action"], "actor": row["actor"], "from_share": row["from_share"],
            "to_share": row["to_share"], "from_state": row["from_state"], "state": row["to_state"],
            "reason": row["reason"], "evidence": evidence, "revision": int(row["revision"]),
            "ts": str(row["ts"])})


class ExperimentControl:
    def __init__(self, location, runtime: Path, decide_every_s: float = 2.0):
        # what workers attach to look feedback ids up: an embedded workspace's path; in team
        # mode nothing (the catalog URL holds a password): workers use the environment's store
        self.workspace = (str(location.root) if getattr(location, "kind", None) == "embedded"
                          else None)
        self.runtime = runtime
        self.decide_every_s = decide_every_s
        self._last_decision = 0.0
        self._published: str | None = None
        self._sending: set[tuple[str, int]] = set()
        self._delivered: queue.Queue = queue.Queue()
        self._outbox: queue.Queue = queue.Queue()  # sent in order by one thread
        self._sender: threading.Thread | None = None
        self.transitions_made = 0

    def cycle(self, ws: Workspace, served: set[str] | None, force: bool = False) -> None:
        self.commit_events(ws)
        if force or time.monotonic() - self._last_decision >= self.decide_every_s:
            self._last_decision = time.monotonic()
            self.decide(ws, served)
        self.deliver(ws)
        self.publish(ws)

    def commit_events(self, ws: Workspace) -> int:
        with take_events(self.runtime) as rows:
            record_feedback(ws, [r for r in rows if r.get("kind") == "feedback"])
            record_pairs(ws, [r for r in rows if r.get("kind") == "pair"])
        return len(rows)

    def decide(self, ws: Workspace, served: set[str] | None) -> None:
        for spec in current_specs(ws).values():
            if spec.state not in ("running", "paused"):
                continue
            missing = [p for p in (spec.control, spec.candidate) if served is not None and p not in served]
            if missing:
                if spec.state == "running":
                    why = f"policy {', '.join(missing)} is no longer deployed or saved"
                    save_spec(ws, replace(spec, state="paused", share=0.0, note=why), action="pause",
                              actor="system", reason=why, expect_revision=spec.revision)
                    self.transitions_made += 1
                continue
            since = datetime.fromisoformat(spec.stage_started) if spec.stage_started else None
            frame = live_data.requests(ws, spec.name, since)
            pairs = live_data.pairs(ws, spec.name, since)
            decision = evaluate(frame, pairs, spec.settings)
            stamp = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
            moved = next_spec(spec, decision, stamp)
            if moved is None:
                continue
            new, action, reason = moved
            evidence = {"stage": spec.stage, "since": spec.stage_started, **decision.to_dict()}
            if save_spec(ws, new, action=action, actor="auto", reason=reason, evidence=evidence,
                         expect_revision=spec.revision) is not None:
                self.transitions_made += 1
                log.warning("experiment %s: %s (%s)", spec.name, action, reason)

    def deliver(self, ws: Workspace) -> None:
        while not self._delivered.empty():
            name, revision, delivery = self._delivered.get()
            record_delivery(ws, name, revision, delivery)
            self._sending.discard((name, revision))
        log_frame = transitions(ws)
        pending = log_frame[log_frame["delivery"].isna()]
        if pending.empty:
            return
        specs = current_specs(ws)
        for row in pending.iloc[::-1].to_dict("records"):  # oldest first
            key = (row["experiment"], int(row["revision"]))
            if key in self._sending:
                continue
            spec = specs.get(row["experiment"])
            urls = list(spec.webhooks) if spec else []
            if not urls:
                record_delivery(ws, key[0], key[1], "no webhook configured")
                continue
            self._sending.add(key)
            self._outbox.put((key, urls, transition_payload(row)))
            if self._sender is None or not self._sender.is_alive():
                self._sender = threading.Thread(target=self._send_all, daemon=True,
                                                name="tradeoff-webhooks")
                self._sender.start()

    def _send_all(self) -> None:
        while True:
            try:
                key, urls, payload = self._outbox.get(timeout=30)
            except queue.Empty:
                return
            try:
                delivery = send_transition(urls, payload)
            except Exception as exc:  # never lose the record of a transition
                delivery = f"failed ({type(exc).__name__})"
            self._delivered.put((key[0], key[1], delivery))

    def publish(self, ws: Workspace) -> None:
        day = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
        spent = live_data.shadow_spend(ws, day)
        experiments = {}
        for name, spec in current_specs(ws).items():
            experiments[name] = {
                "name": name, "route": spec.route, "control": spec.control,
                "candidate": spec.candidate, "unit": spec.unit.lower(), "state": spec.state,
                "share": spec.serving_share, "revision": spec.revision,
                "shadow_share": spec.shadow_share if spec.state in ("running", "paused") else 0.0,
                "shadow_budget_usd": spec.shadow_budget_usd,
                "shadow_spent_today": spent.get(name, 0.0),
                "active": spec.state in ("running", "paused", "completed")}
        data = {"workspace": self.workspace, "experiments": experiments}
        text = json.dumps(data, sort_keys=True)
        if text != self._published:
            write_json(self.runtime / EXPERIMENTS_FILE, data)
            self._published = text

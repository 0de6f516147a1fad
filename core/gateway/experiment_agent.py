"""Live experiments in the store agent: feedback and shadow pairs in, rollout decisions out.

Each agent cycle (:class:`ExperimentControl.cycle`, inside the agent's store session):

1. commits the workers' spooled events (feedback, shadow pairs, live scores) in one bulk write each;
2. every ``decide_every_s`` (2 s; steps 3 and 4 too): judges each running experiment's current stage with the decision
   rule (:mod:`core.experiments.decision`) and applies the rollout (:mod:`core.experiments.rollout`):
   advance, or roll back to 0% at once on a breach. An experiment whose control or candidate
   policy is no longer served is paused. This runs in the gateway, so rules hold with the console
   closed;
3. announces every transition not yet delivered (automatic or the PM's) as an
   ``experiment.transition`` event (:mod:`core.gateway.webhooks`: once per transition, by a dedup
   key, whichever process sees it first) to the workspace's webhooks that take it and to the
   experiment's own URLs, from the background notifier (retried, every attempt recorded in the
   deliveries the Gateway page shows), and notes the outcome in the decision log;
4. publishes ``experiments.json`` (shares, shadow budgets and today's shadow spend) for the
   workers, which reload it without a restart.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.experiments import live_data
from core.experiments.decision import evaluate
from core.experiments.live import (
    current_specs,
    record_delivery,
    record_feedback,
    record_pairs,
    record_scores,
    save_spec,
    transitions,
)
from core.experiments.rollout import next_spec
from core.exports import json_safe
from core.gateway.events import take_events
from core.gateway.experiments import EXPERIMENTS_FILE
from core.gateway.runtime import write_json
from core.gateway.webhooks import (
    Attempt,
    DeliverySettings,
    Notifier,
    Webhook,
    active_webhooks,
    event_by_dedup_key,
    mask_url,
    record_attempts,
    record_event,
)
from core.workspace import Workspace

log = logging.getLogger("tradeoff.gateway")


EVENT = "experiment.transition"


def experiment_hooks(spec) -> list[Webhook]:
    """The experiment's own webhook URLs (given when it was created), as webhooks of one event."""
    if spec is None:
        return []
    return [Webhook(f"experiment:{spec.name}:{i + 1}", f"{spec.name} #{i + 1}", url, EVENT)
            for i, url in enumerate(spec.webhooks)]


def delivery_summary(hooks: list[Webhook], finals: dict[str, Attempt]) -> str:
    """How a transition's webhooks went, for people: masked URL and outcome per webhook."""
    parts = []
    for hook in hooks:
        a = finals.get(hook.webhook_id)
        outcome = ("HTTP " + str(a.status_code)) if a is not None and a.status_code is not None \
            else f"failed ({(a.error or 'no answer').split(':')[0]})" if a is not None else "not sent"
        parts.append(f"{mask_url(hook.url)}: {outcome}")
    return "; ".join(parts)


def transition_payload(row: dict[str, Any]) -> dict[str, Any]:
    evidence = json.loads(row["evidence_json"]) if isinstance(row.get("evidence_json"), str) else None
    return json_safe({"event": "experiment.transition", "experiment": row["experiment"],
            "action": row["action"], "actor": row["actor"], "from_share": row["from_share"],
            "to_share": row["to_share"], "from_state": row["from_state"], "state": row["to_state"],
            "reason": row["reason"], "evidence": evidence, "revision": int(row["revision"]),
            "ts": str(row["ts"])})


def transition_text(payload: dict[str, Any]) -> str:
    """The one line people read in Slack.

    >>> transition_text({"experiment": "support-v2", "action": "advance", "actor": "auto",
    ...                  "from_share": 0.05, "to_share": 0.25, "reason": "guardrails hold"})
    'Experiment support-v2: advance 5% -> 25% (auto): guardrails hold'
    """
    def pct(x):
        return "-" if x is None else f"{float(x):.0%}"
    return (f"Experiment {payload['experiment']}: {payload['action']} {pct(payload.get('from_share'))}"
            f" -> {pct(payload.get('to_share'))} ({payload['actor']}): {payload['reason']}")


class ExperimentControl:
    def __init__(self, location, runtime: Path, decide_every_s: float = 2.0,
                 delivery: DeliverySettings = DeliverySettings()):
        # what workers attach to look feedback ids up: an embedded workspace's path; in team
        # mode nothing (the catalog URL holds a password): workers use the environment's store
        self.workspace = (str(location.root) if getattr(location, "kind", None) == "embedded"
                          else None)
        self.runtime = runtime
        self.decide_every_s = decide_every_s
        self._last_decision = 0.0
        self._published: str | None = None
        self.delivery = delivery
        self._notifier: Notifier | None = None  # started with the first transition to announce
        # event_id -> (experiment, revision, its webhooks, final attempts so far)
        self._sending: dict[str, tuple[str, int, list[Webhook], dict[str, Attempt]]] = {}
        self.transitions_made = 0

    def cycle(self, ws: Workspace, served: set[str] | None, force: bool = False) -> None:
        """Commit the events every cycle; judge, announce and publish every ``decide_every_s``
        (reading the experiments costs store queries: not at the ledger's 0.5 s pace)."""
        self.commit_events(ws)
        if force or time.monotonic() - self._last_decision >= self.decide_every_s:
            self._last_decision = time.monotonic()
            self.decide(ws, served)
            self.deliver(ws)
            self.publish(ws)
        elif self._sending:
            self._record_attempts(ws)  # note finished deliveries as soon as they are done

    def commit_events(self, ws: Workspace) -> int:
        with take_events(self.runtime) as rows:
            record_feedback(ws, [r for r in rows if r.get("kind") == "feedback"])
            record_pairs(ws, [r for r in rows if r.get("kind") == "pair"])
            record_scores(ws, [r for r in rows if r.get("kind") == "score"])
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
        self._record_attempts(ws)
        pending = transitions(ws, undelivered=True)
        if pending.empty:
            return
        sending = {(name, revision) for name, revision, _, _ in self._sending.values()}
        specs = current_specs(ws)
        for row in pending.iloc[::-1].to_dict("records"):  # oldest first: webhooks see them in order
            key = (row["experiment"], int(row["revision"]))
            if key in sending:
                continue
            spec = specs.get(row["experiment"])
            hooks = active_webhooks(ws, EVENT) + experiment_hooks(spec)
            if not hooks:
                record_delivery(ws, key[0], key[1], "no webhook configured")
                continue
            payload = transition_payload(row)
            dedup = f"experiment:{key[0]}:{key[1]}"
            event = record_event(ws, EVENT, payload, transition_text(payload), dedup_key=dedup)
            if event is None:  # recorded before: by another gateway, or by this one before a restart
                event = event_by_dedup_key(ws, dedup, unsent_for_s=60.0)
                if event is None:  # being delivered elsewhere (or just now): that process notes it
                    continue
            self._sending[event.event_id] = (key[0], key[1], hooks, {})
            if self._notifier is None:
                self._notifier = Notifier(self.delivery)
            self._notifier.submit(event, hooks)

    def _record_attempts(self, ws: Workspace) -> None:
        if self._notifier is None:
            return
        attempts = self._notifier.take()
        record_attempts(ws, attempts)
        for a in attempts:
            if a.final and a.event_id in self._sending:
                self._sending[a.event_id][3][a.webhook_id] = a
        for event_id, (name, revision, hooks, finals) in list(self._sending.items()):
            if len(finals) >= len(hooks):
                record_delivery(ws, name, revision, delivery_summary(hooks, finals))
                del self._sending[event_id]

    def close(self, ws: Workspace | None = None) -> None:
        """Finish the deliveries under way (their outcome is noted if ``ws`` is given)."""
        if self._notifier is not None:
            self._notifier.close()
            if ws is not None:
                self._record_attempts(ws)
            self._notifier = None

    def publish(self, ws: Workspace) -> None:
        day = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
        specs = current_specs(ws)
        spent = live_data.shadow_spend(ws, day) if specs else {}  # no experiment: no ledger read
        experiments = {}
        for name, spec in specs.items():
            experiments[name] = {
                "name": name, "route": spec.route, "control": spec.control,
                "candidate": spec.candidate, "unit": spec.unit.lower(), "state": spec.state,
                "share": spec.serving_share, "revision": spec.revision,
                "shadow_share": spec.shadow_share if spec.state in ("running", "paused") else 0.0,
                "shadow_budget_usd": spec.shadow_budget_usd,
                "shadow_spent_today": spent.get(name, 0.0), "scorers": list(spec.scorers),
                "active": spec.state in ("running", "paused", "completed")}
        data = {"workspace": self.workspace, "experiments": experiments}
        text = json.dumps(data, sort_keys=True)
        if text != self._published:
            write_json(self.runtime / EXPERIMENTS_FILE, data)
            self._published = text

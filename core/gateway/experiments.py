"""Live experiments in a gateway worker: pick the arm, schedule the shadow, take feedback.

The engine calls :meth:`LiveExperiments.pick` once per request (a dict lookup when no experiment
runs on the route) and :meth:`LiveExperiments.after` once it has the answer. The store agent
publishes the experiments in ``experiments.json`` (:mod:`core.gateway.experiment_agent`); a
worker reloads it when it changes, so a share moved by the rollout or the PM reaches running
workers without a restart.

* **Arm**: a unit (the value of the experiment's header, or the request id) goes to the candidate
  when ``unit_bucket(unit, name) < share`` (:func:`core.experiments.assignment.unit_bucket`, the
  replay's hash): a user keeps their arm, and a wider stage keeps the earlier stage's users.
* **Shadow**: for a ``shadow_share`` of the control's requests (by an independent hash of the
  request id) the candidate is called in a background task after the answer is ready: the client
  never waits for it, and its failure only writes a failed shadow row. Its calls are ledger rows
  with ``source='shadow'`` and ``variant='shadow'``; each day's shadow spend stops at the
  experiment's ``shadow_budget_usd``. The pair (agreement, both costs and latencies) is spooled
  as an event for the store agent.
* **Scores**: an experiment's live scorers (``json``, ``json-schema``, ``regex``: no expected
  answer needed) judge each answer served in either arm; the verdicts are spooled as events.
* **Feedback**: ``POST /v1/feedback`` is checked here, looked up (this worker's recent requests,
  else the ledger) and spooled as an event; 404 for an id the gateway never served.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.evaluation.answers import normalize_answer
from core.experiments.assignment import unit_bucket
from core.experiments.live import feedback_value
from core.experiments.live_scores import score_answer, scorers_for
from core.gateway.errors import GatewayError
from core.gateway.events import EventWriter
from core.gateway.runtime import read_json, stamp

log = logging.getLogger("tradeoff.gateway")
EXPERIMENTS_FILE = "experiments.json"
MAX_SHADOWS_IN_FLIGHT = 64
RECENT = 200_000  # request ids this worker remembers for feedback


@dataclass(frozen=True)
class Arm:
    experiment: str
    variant: str  # control | candidate
    policy: str


class LiveExperiments:
    def __init__(self, runtime: Path | None, sink=None):
        self.runtime = runtime
        self.sink = sink
        self.by_route: dict[str, dict[str, Any]] = {}  # active experiments by route
        self.known: dict[str, dict[str, Any]] = {}     # every published experiment by name
        self.workspace: str | None = None
        self._stamp = None
        self._events = EventWriter(runtime) if runtime is not None else None
        self.recent: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()
        self._shadow_spent: dict[str, Decimal] = {}
        self._tasks: set[asyncio.Task] = set()
        self.shadows_skipped = 0
        self._ws = None

    # -- what runs ----------------------------------------------------------------------------
    def reload_if_changed(self) -> bool:
        if self.runtime is None:
            return False
        path = self.runtime / EXPERIMENTS_FILE
        current = stamp(path)
        if current is None or current == self._stamp:
            return False
        data = read_json(path) or {}
        self._stamp = current
        routes: dict[str, dict[str, Any]] = {}
        for exp in (data.get("experiments") or {}).values():
            if exp.get("active"):
                routes[exp["route"]] = exp
        self.by_route, self.workspace = routes, data.get("workspace")
        self.known = dict(data.get("experiments") or {})
        self._shadow_spent = {}  # the published figure now includes what this worker spent
        return True

    @property
    def shadows_in_flight(self) -> int:
        return len(self._tasks)

    def tick(self) -> None:
        if self._events is not None:
            self._events.tick()

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    # -- per request --------------------------------------------------------------------------
    def pick(self, route: str | None, chat, headers, request_id: str) -> Arm | None:
        """The arm of this request when an experiment runs on its route."""
        exp = self.by_route.get(route) if route else None
        if exp is None:
            return None
        unit = request_id
        if exp["unit"] != "request":
            value = (headers or {}).get(exp["unit"])
            if value is None and exp["unit"].startswith("x-tradeoff-"):
                value = chat.tags.get(exp["unit"][len("x-tradeoff-"):])
            unit = value or request_id
        candidate = unit_bucket(unit, exp["name"]) < exp["share"]
        return Arm(exp["name"], "candidate" if candidate else "control",
                   exp["candidate"] if candidate else exp["control"])

    def remember(self, request_id: str, arm: Arm | None) -> None:
        self.recent[request_id] = (arm.experiment, arm.variant) if arm else (None, None)
        if len(self.recent) > RECENT:
            self.recent.popitem(last=False)

    def wants_shadow(self, arm: Arm | None, request_id: str) -> dict[str, Any] | None:
        if arm is None or arm.variant != "control":
            return None
        exp = self.by_route.get(self._route_of(arm.experiment))
        if not exp or not exp.get("shadow_share"):
            return None
        if unit_bucket(request_id, exp["name"] + "/shadow") >= exp["shadow_share"]:
            return None
        spent = Decimal(str(exp.get("shadow_spent_today") or 0)) + self._shadow_spent.get(exp["name"], Decimal(0))
        if spent >= Decimal(str(exp.get("shadow_budget_usd") or 0)) or len(self._tasks) >= MAX_SHADOWS_IN_FLIGHT:
            self.shadows_skipped += 1
            return None
        return exp

    def _route_of(self, experiment: str) -> str | None:
        for route, exp in self.by_route.items():
            if exp["name"] == experiment:
                return route
        return None

    def after(self, done, engine) -> None:
        """Remember the request for feedback, score its answer with the experiment's live scorers,
        and start its shadow call when sampled (never awaited)."""
        self.remember(done.request_id, done.arm)
        if done.ok and done.arm is not None:
            self.score(done)
        exp = self.wants_shadow(done.arm, done.request_id) if done.ok else None
        if exp is None:
            return
        task = asyncio.get_running_loop().create_task(self._shadow(done, engine, exp))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _shadow(self, done, engine, exp: dict[str, Any]) -> None:
        started = time.perf_counter()
        shadow = None
        try:
            target = engine.resolve("tradeoff/" + exp["candidate"])
            shadow = await engine.run_shadow(done.chat, target, done.request_id)
        except Exception as exc:  # a shadow never touches the served answer
            log.warning("shadow call of %s failed: %s", exp["name"], type(exc).__name__)
        try:
            if shadow is not None:
                rows = shadow.ledger_rows()
                for row in rows:
                    row.update(source="shadow", experiment=exp["name"], variant="shadow")
                if rows and self.sink is not None:
                    self.sink.append(rows)
                cost = shadow.cost
                if cost is not None:
                    self._shadow_spent[exp["name"]] = self._shadow_spent.get(exp["name"], Decimal(0)) + cost
            self._event({"kind": "pair", **pair_row(done, shadow, exp["name"],
                                                    (time.perf_counter() - started) * 1000)})
        except Exception:
            log.exception("recording the shadow call of %s failed", exp["name"])

    def score(self, done) -> None:
        """Spool the live scorers' verdicts on the answer served (never fails the request)."""
        specs = (self.known.get(done.arm.experiment) or {}).get("scorers") or ()
        if not specs:
            return
        try:
            scores = score_answer(scorers_for(tuple(specs)), done.answer.text)
        except Exception:  # a scorer's bug must not touch the served answer
            log.exception("live scorers of %s failed", done.arm.experiment)
            return
        if scores:
            self._event({"kind": "score", "request_id": done.request_id, "experiment": done.arm.experiment,
                         "arm": done.arm.variant, "scores": scores, "ts": datetime.now(UTC).isoformat()})

    def _event(self, row: dict[str, Any]) -> None:
        if self._events is not None:
            self._events.append(row)

    # -- feedback -----------------------------------------------------------------------------
    async def feedback(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise GatewayError(400, "Feedback must be a JSON object with request_id and a score, "
                               "thumbs or label", code="invalid_feedback")
        request_id = body.get("request_id")
        if not isinstance(request_id, str) or not request_id.strip():
            raise GatewayError(400, "Feedback needs request_id: the id of the chat completion the "
                               "gateway returned", param="request_id", code="invalid_feedback")
        given = request_id.strip()
        request_id = given.removeprefix("chatcmpl-")
        try:
            score, thumbs, label = feedback_value(body.get("score"), body.get("thumbs"), body.get("label"))
        except InputError as exc:
            raise GatewayError(400, f"Invalid feedback for {given}: {exc}",
                               code="invalid_feedback") from None
        served = self.recent.get(request_id)
        if served is None:
            served = await asyncio.to_thread(self._look_up, request_id)
        if served is None:
            raise GatewayError(404, f"No request '{given}' was served by this gateway: give "
                               "the id of a chat completion it returned", param="request_id",
                               code="request_not_found")
        row = {"request_id": request_id, "experiment": served[0], "arm": served[1], "score": score,
               "thumbs": thumbs, "label": label, "origin": "api",
               "received_at": datetime.now(UTC).isoformat()}
        self._event({"kind": "feedback", **row})
        return {"object": "feedback", "recorded": True, **{k: row[k] for k in
                ("request_id", "experiment", "arm", "score", "thumbs", "label")}}

    def _look_up(self, request_id: str) -> tuple[str | None, str | None] | None:
        """The ledger's answer (another worker served it, or before a restart). A request this
        gateway answered less than a commit ago may still be in the spool: ask twice."""
        from core.experiments.live_data import served_request

        for attempt in range(2):
            found = served_request(self._store(), request_id)
            if found is not None or attempt:
                return found
            time.sleep(1.0)
        return None

    def _store(self):
        """This worker's read handle on the workspace (reads never wait on the store)."""
        if self._ws is None:
            from core.workspace import Workspace
            from core.workspace.location import resolve

            self._ws = Workspace(resolve(self.workspace))
        return self._ws


def pair_row(done, shadow, experiment: str, shadow_ms: float) -> dict[str, Any]:
    """A shadow pair: do the served and the shadow answers agree (one normalisation rule)?"""
    ok = shadow is not None and shadow.ok
    served = normalize_answer(done.answer.conclusion) if done.ok else None
    other = normalize_answer(shadow.answer.conclusion) if ok else None
    cost = shadow.cost if shadow is not None else None
    return {"request_id": done.request_id, "experiment": experiment,
            "ts": datetime.now(UTC).isoformat(), "agree": None if served is None or other is None
            else served == other, "shadow_ok": bool(ok),
            "control_cost_usd": float(done.cost) if done.cost is not None else None,
            "shadow_cost_usd": float(cost) if cost is not None else None,
            "control_latency_ms": sum(a.latency_ms for a in done.attempts),
            "shadow_latency_ms": shadow_ms}

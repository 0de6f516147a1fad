"""The worker's admission step: gateway keys, then budgets, decided in memory.

:class:`Guard` is an admission step (:mod:`core.gateway.admission`) plus ``account(done)``,
which the request path calls once per answered request. It reads ``guard.json`` (published by
the store agent's :class:`~core.gateway.watch.BudgetWatch` every cycle) when the file changes:
the active keys' salted hashes and each budget's spend this period. Nothing on the request path
touches the store or the disk.

**Counters.** Per budget a worker holds ``base`` (the spend it last knew) and ``local`` (what
it spent itself since). On reload ``base = max(published spend, base + local)`` and ``local =
0``: both are lower bounds of the true spend (a row is either committed, so published, or was
spent by this worker after its last reload), so the counter never dips and never counts a call
twice. A request is decided on ``base + local``.

**Over-shoot window.** Another worker's spend reaches this one after the store agent commits it
(its spool seals every 0.5 s, the agent commits and publishes every 0.5 s, workers look every
0.25 s): up to ~1.5 s of the other workers' traffic, plus requests already in flight (their
cost is known only when they finish), can pass a limit before the action applies. A worker's
own spend counts from its next request. Key revocations reach workers within the same delay.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.gateway.admission import AdmissionRequest, Refuse, Swap
from core.gateway.apikeys import verify
from core.gateway.budgets import PREFIX, SEVERITY, describe
from core.gateway.runtime import read_json, stamp

log = logging.getLogger("tradeoff.gateway")
GUARD_FILE = "guard.json"
URGENT_HEADER = "x-tradeoff-urgent"
_TRUE = {"1", "true", "yes", "urgent", "y"}


@dataclass
class Counter:
    state: dict[str, Any]
    base: float
    local: float = 0.0
    resets: float = float("inf")  # epoch seconds

    @property
    def spent(self) -> float:
        return self.base + self.local

    def applies(self, now: float) -> bool:
        s = self.state
        return (s["action"] != "alert" and now < self.resets
                and self.spent * 100 >= s["action_at"] * s["limit_usd"] * (1 - 1e-12))


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _urgent(req: AdmissionRequest) -> bool:
    raw = req.headers.get(URGENT_HEADER) if req.headers else None
    if raw is None:
        raw = req.chat.metadata.get("urgent")
    return str(raw).strip().lower() in _TRUE if raw is not None else False


def _bearer(headers) -> str:
    raw = (headers.get("authorization") if headers else None) or ""
    return raw[7:].strip() if raw[:7].lower() == "bearer " else raw.strip()


class Guard:
    """Keys and budgets for one worker (an admission step; see the module's docstring)."""

    def __init__(self, runtime: Path | None, clock=time.time):
        self.path = Path(runtime) / GUARD_FILE if runtime is not None else None
        self.clock = clock
        self.keys_required = False
        self.keys: dict[str, dict[str, str]] = {}
        self.counters: dict[str, Counter] = {}
        self._overall: list[Counter] = []
        self._team: dict[str, list[Counter]] = {}
        self._key: dict[str, list[Counter]] = {}
        self._stamp = None
        self.reload_if_changed()

    @property
    def idle(self) -> bool:
        return not self.keys_required and not self.counters

    # -- reloading ------------------------------------------------------------------------
    def reload_if_changed(self) -> bool:
        if self.path is None:
            return False
        current = stamp(self.path)
        if current is None or current == self._stamp:
            return False
        data = read_json(self.path)
        self._stamp = current
        if data is None:
            return False
        self.load(data)
        return True

    def load(self, data: dict[str, Any]) -> None:
        self.keys_required = bool(data.get("keys_required"))
        self.keys = dict(data.get("keys") or {})
        counters = {}
        for state in data.get("budgets") or []:
            old = self.counters.get(state["budget_id"])
            base = float(state["spent_usd"])
            if old is not None and old.state["since"] == state["since"]:
                base = max(base, old.spent)
            counters[state["budget_id"]] = Counter(state, base, 0.0, _epoch(state["resets_at"]))
        self.counters = counters
        self._overall = [c for c in counters.values() if c.state["scope"] == "overall"]
        self._team, self._key = {}, {}
        for c in counters.values():
            index = self._team if c.state["scope"] == "team" else self._key if c.state["scope"] == "key" else None
            if index is not None:
                index.setdefault(c.state["subject"], []).append(c)

    def applicable(self, team: str | None, key_id: str | None) -> list[Counter]:
        found = list(self._overall)
        if team is not None and team in self._team:
            found += self._team[team]
        if key_id is not None and key_id in self._key:
            found += self._key[key_id]
        return found

    # -- the admission step ---------------------------------------------------------------
    def check_key(self, headers) -> str | Refuse | None:
        """The id of the active key the request sent; a 401 Refuse when keys are required and
        it sent none or a bad one; None when keys are not required."""
        if not self.keys_required:
            return None
        presented = _bearer(headers)
        key_id = verify(presented, self.keys)
        if key_id is not None:
            return key_id
        why = "no gateway key was sent" if not presented else "this gateway key is unknown or revoked"
        return Refuse(401, f"Unauthorized: {why}. Send an active Tradeoff gateway key as the API "
                      "key (Authorization: Bearer tk-...); create one with `python -m core keys "
                      "create NAME` or on the Gateway page.", code="invalid_api_key",
                      type="invalid_request_error")

    async def __call__(self, req: AdmissionRequest) -> Refuse | Swap | None:
        key_id = self.check_key(req.headers)
        if isinstance(key_id, Refuse):
            return key_id
        if key_id is not None:
            req.chat.tags["key"] = key_id
        if not self.counters:
            return None
        now = self.clock()
        binding = [c for c in self.applicable(req.chat.tags.get("team"), key_id) if c.applies(now)]
        if not binding:
            return None
        binding.sort(key=lambda c: -SEVERITY[c.state["action"]])
        urgent = None
        for c in binding:
            action = c.state["action"]
            if action == "refuse":
                urgent = _urgent(req) if urgent is None else urgent
                if urgent:
                    continue
            if action in ("stop", "refuse"):
                return self._refusal(c, now)
            if action == "switch":
                target = PREFIX + c.state["switch_to"]
                if req.target.model == target:
                    return None
                return Swap(target, f"{describe(c.state)} reached {c.state['action_at']}%")
        return None

    def _refusal(self, c: Counter, now: float) -> Refuse:
        s = c.state
        pct = 100 * c.spent / s["limit_usd"]
        who = ("Every request is refused until then (hard stop)." if s["action"] == "stop" else
               "Non-urgent requests are refused until then; send X-Tradeoff-Urgent: true for urgent work.")
        message = (f"Budget exceeded: the {describe(s)} has ${c.spent:,.4f} spent of "
                   f"${s['limit_usd']:,.2f} ({pct:.0f}%) since {s['since']}; it resets at "
                   f"{s['resets_at']}. {who}")
        return Refuse(429, message, code="budget_exceeded", type="insufficient_quota",
                      retry_after_s=max(1.0, c.resets - now), headers={"x-should-retry": "false"})

    def summary(self) -> dict[str, Any]:
        """What /health shows: whether keys are checked, each budget's spend as this worker
        counts it and whether its action applies now."""
        now = self.clock()
        return {"keys_required": self.keys_required, "active_keys": len(self.keys),
                "budgets": [{"budget_id": b, "spent_usd": round(c.spent, 6),
                             "limit_usd": c.state["limit_usd"], "action": c.state["action"],
                             "applies": c.applies(now)} for b, c in self.counters.items()]}

    # -- after a request ------------------------------------------------------------------
    def account(self, done) -> None:
        """Add a finished request's cost to this worker's counters."""
        if not self.counters:
            return
        cost = sum(a.cost_usd or 0.0 for a in done.attempts)
        if cost:
            tags = done.chat.tags
            for c in self.applicable(tags.get("team"), tags.get("key")):
                c.local += cost

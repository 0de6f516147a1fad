"""The store agent's budget watch: budget state and keys for the workers, alerts for people.

Each store-agent cycle (every 0.5 s, with the store open) :meth:`BudgetWatch.cycle`:

1. records the webhook delivery attempts the background :class:`~core.gateway.webhooks.Notifier`
   made since the last cycle;
2. computes every gateway budget's spend this period from the ledger (just committed from the
   spool) and, for each 70/90/100% threshold reached, records one ``budget.threshold`` event per
   budget, threshold and period (a dedup key in the store: several workers, restarts or
   servers never send it twice) and hands it to the notifier;
3. publishes ``guard.json`` in the gateway folder (keys as salted hashes, budget state), which
   every worker reloads within a quarter of a second (:mod:`core.gateway.guard`).
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.gateway.apikeys import key_table
from core.gateway.budgets import budget_state, crossed, threshold_text
from core.gateway.runtime import read_json, write_json
from core.gateway.webhooks import (
    DeliverySettings,
    Notifier,
    active_webhooks,
    record_attempts,
    record_event,
    seen_dedup_keys,
)
from core.workspace import Workspace

log = logging.getLogger("tradeoff.gateway")
GUARD_FILE = "guard.json"
EVENT = "budget.threshold"


def dedup_key(state: dict[str, Any], threshold: int) -> str:
    return f"budget:{state['budget_id']}:{state['since']}:{threshold}"


class BudgetWatch:
    """A store-agent hook (``cycle(ws)`` each cycle, ``close()`` on shutdown)."""

    def __init__(self, runtime: Path, delivery: DeliverySettings = DeliverySettings()):
        self.runtime = Path(runtime)
        self.notifier = Notifier(delivery)
        self._seen: set[str] | None = None
        self._published: dict[str, Any] | None = read_json(self.runtime / GUARD_FILE)
        self.alerts_sent = 0

    def cycle(self, ws: Workspace) -> None:
        record_attempts(ws, self.notifier.take())
        required, keys = key_table(ws)
        states = budget_state(ws)
        names = {k: v["name"] for k, v in keys.items()}
        for state in states:
            if state["scope"] == "key":
                state["key_name"] = names.get(state["subject"])
            self._alert(ws, state)
        guard = {"keys_required": required, "keys": keys, "budgets": states}
        if self._published is None or {k: self._published.get(k) for k in guard} != guard:
            self._published = {**guard, "computed_at": datetime.now(UTC).isoformat(timespec="milliseconds")}
            write_json(self.runtime / GUARD_FILE, self._published)

    def _alert(self, ws: Workspace, state: dict[str, Any]) -> None:
        if self._seen is None:
            self._seen = seen_dedup_keys(ws, "budget:")
        for threshold in crossed(state):
            key = dedup_key(state, threshold)
            if key in self._seen:
                continue
            payload = {"budget": {k: state.get(k) for k in ("budget_id", "scope", "subject", "key_name",
                                                              "period", "limit_usd", "action",
                                                              "switch_to", "action_at")},
                       "threshold": threshold, "spent_usd": round(state["spent_usd"], 6),
                       "limit_usd": state["limit_usd"], "since": state["since"],
                       "resets_at": state["resets_at"],
                       "action_applies": threshold >= state["action_at"] and state["action"] != "alert"}
            event = record_event(ws, EVENT, payload, threshold_text(state, threshold), dedup_key=key)
            self._seen.add(key)
            if event is not None:
                self.alerts_sent += 1
                log.warning("%s", event.text)
                self.notifier.submit(event, active_webhooks(ws, EVENT))

    def close(self) -> None:
        """Finish pending deliveries (their attempts are recorded by the agent's last cycles)."""
        self.notifier.close()

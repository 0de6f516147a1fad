"""``check --alert``: a failed regression gate as a ``gate.failed`` event to the webhooks.

The event is recorded in the workspace (``gateway_events``) and posted at once, retried, to every
active webhook whose filter takes it (``*``, ``gate.`` or ``gate.failed``), as Slack-compatible
JSON: ``text`` (the one-line reason) plus the gate's result (:meth:`GateResult.to_dict`).
"""
from __future__ import annotations

from typing import Any

from core.gateway.webhooks import active_webhooks, send_event
from core.workspace import Workspace

KIND = "gate.failed"


def alert_gate_failure(ws: Workspace, result: dict[str, Any], line: str) -> str | None:
    """Send the event; returns a note for the person running ``check`` when nobody got it."""
    text = f"Tradeoff: regression gate failed for {result.get('policy')} on {result.get('evalset')}: " \
           + line.removeprefix("check failed: ")
    if not active_webhooks(ws, KIND):
        send_event(ws, KIND, result, text)  # recorded all the same: the Gateway page shows it
        return (f"no webhook takes {KIND} events; add one with `python -m core webhooks add NAME "
                "URL --events gate.`")
    sent = send_event(ws, KIND, result, text)
    finals = [a for a in sent.attempts if a.final]
    failed = [a for a in finals if not a.ok]
    if failed:
        return (f"the {KIND} alert reached {len(finals) - len(failed)} of {len(finals)} webhooks "
                f"({failed[0].error}); see `python -m core webhooks deliveries`")
    return None

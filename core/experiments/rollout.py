"""The staged rollout: 5% -> 25% -> 50% -> 100%, advanced and rolled back by the decision rule.

:func:`next_spec` is the whole automatic policy (the gateway's store agent applies it every few
seconds, so rollbacks happen with the console closed); :func:`manual` is the PM's hand on it.
Each stage is judged on the traffic served since the stage began (``stage_started``)::

    >>> from core.experiments.decision import Decision
    >>> spec = LiveSpec("x", route="r", control="a", candidate="b", share=0.05)
    >>> go = Decision("go", "advance", "all ok", [], {})
    >>> new, action, reason = next_spec(spec, go, now="2026-01-01T00:00:00")
    >>> new.share, action
    (0.25, 'advance')
    >>> next_spec(new, Decision("no-go", "rollback", "errors", [], {}), now="t")[0].state
    'rolled_back'

In ``ab`` mode the share stays where the PM set it (a breach still rolls back). A paused
experiment keeps its split and never advances, but a breach still rolls it back.
"""
from __future__ import annotations

from dataclasses import replace

from core.errors import InputError
from core.experiments.decision import Decision
from core.experiments.live import LiveSpec, now

MANUAL = ("pause", "resume", "advance", "rollback", "stop")


def next_spec(spec: LiveSpec, decision: Decision, now: str) -> tuple[LiveSpec, str, str] | None:
    """``(new spec, action, reason)`` when the decision moves the experiment, else None."""
    if spec.state not in ("running", "paused"):
        return None
    if decision.action == "rollback" and spec.share > 0:
        return (replace(spec, share=0.0, state="rolled_back", stage_started=now,
                        note="rolled back automatically: " + decision.reason),
                "rollback", decision.reason)
    if decision.action != "advance" or spec.state != "running" or spec.mode != "rollout":
        return None
    stage = spec.next_stage()
    if stage is None:
        return None
    if stage >= 100:
        return (replace(spec, share=1.0, state="completed", stage_started=now,
                        note="every stage passed: the candidate serves all traffic"),
                "complete", decision.reason)
    return (replace(spec, share=stage / 100, stage_started=now, note=f"advanced to {stage}%"),
            "advance", decision.reason)


def manual(spec: LiveSpec, action: str, reason: str = "") -> LiveSpec:
    """The PM's pause / resume / advance / rollback / stop."""
    stamp = now().isoformat(timespec="seconds")
    why = reason or f"{action} by hand"
    if action not in MANUAL:
        raise InputError(f"Action must be one of {', '.join(MANUAL)}; got '{action}'")
    if spec.state in ("rolled_back", "completed", "stopped") and action != "resume":
        raise InputError(f"Experiment '{spec.name}' is {spec.state.replace('_', ' ')}: "
                         "resume it first to change it")
    if action == "pause":
        return replace(spec, state="paused", note=why)
    if action == "resume":
        share = spec.share if spec.share > 0 and spec.state != "completed" else spec.stages[0] / 100
        return replace(spec, state="running", share=share, stage_started=stamp, note=why)
    if action == "advance":
        stage = spec.next_stage()
        if stage is None:
            raise InputError(f"Experiment '{spec.name}' is already at 100%")
        return replace(spec, share=stage / 100, state="completed" if stage >= 100 else spec.state,
                       stage_started=stamp, note=why)
    if action == "rollback":
        return replace(spec, share=0.0, state="rolled_back", stage_started=stamp, note=why)
    return replace(spec, share=0.0, state="stopped", stage_started=stamp, note=why)

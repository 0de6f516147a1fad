"""Starting and steering live experiments (the console and the command line call these).

    start_experiment(ws, LiveSpec("cheap", route="support", control="support", candidate="cascade"))
    act(ws, "cheap", "pause")          # pause | resume | advance | rollback | stop

The gateway picks a change up within a cycle of its store agent; nothing restarts.
"""
from __future__ import annotations

from dataclasses import replace

from core.errors import InputError
from core.experiments.live import LiveSpec, current_specs, now, save_spec
from core.experiments.rollout import manual
from core.gateway.deployments import current_deployments, saved_policies
from core.workspace import Workspace


def servable(ws: Workspace) -> list[str]:
    """Policy names a route, a control or a candidate may use: deployed, or saved."""
    return sorted({**saved_policies(ws), **current_deployments(ws)})


def start_experiment(ws: Workspace, spec: LiveSpec, reason: str = "started") -> LiveSpec:
    """Check and start ``spec`` (a rollout starts at its first stage, now)."""
    spec.check()
    names = servable(ws)
    for role, name in (("route", spec.route), ("control", spec.control), ("candidate", spec.candidate)):
        if name not in names:
            raise InputError(f"The {role} policy '{name}' is not deployed or saved (known: "
                             f"{', '.join(names) or 'none'}); deploy it first")
    existing = current_specs(ws).get(spec.name)
    if existing is not None and existing.state in ("running", "paused"):
        raise InputError(f"An experiment named '{spec.name}' is already {existing.state}: "
                         "stop it first or pick another name")
    busy = [s.name for s in current_specs(ws).values()
            if s.route == spec.route and s.state in ("running", "paused") and s.name != spec.name]
    if busy:
        raise InputError(f"Route '{spec.route}' already runs experiment '{busy[0]}': one at a time")
    share = spec.stages[0] / 100 if spec.mode == "rollout" else spec.share
    started = replace(spec, share=share, state="running",
                      stage_started=now().isoformat(timespec="microseconds"), note=reason)
    return save_spec(ws, started, action="created", reason=reason)


def act(ws: Workspace, name: str, action: str, reason: str = "") -> LiveSpec:
    """The PM's pause / resume / advance / rollback / stop, recorded as a transition."""
    spec = current_specs(ws).get(name)
    if spec is None:
        raise InputError(f"No live experiment named '{name}'")
    new = manual(spec, action, reason)
    saved = save_spec(ws, new, action=action, reason=reason or f"{action} by hand",
                      expect_revision=spec.revision)
    if saved is None:
        raise InputError(f"Experiment '{name}' changed meanwhile (the rollout moved it): look again")
    return saved

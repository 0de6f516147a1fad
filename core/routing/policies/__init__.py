"""Routing policies: each one a small class answering "which model answers this item?".

Every policy has ``fit(evalset) -> self``, ``evaluate(evalset) -> Outcome``, ``to_dict()`` /
``from_dict()`` and :meth:`~core.routing.policies.base.Policy.models_called`. The registry below
maps a saved ``kind`` to its class; adding a strategy means one module and one line here. The
learned routers need scikit-learn (slow to import), so their entries are dotted paths resolved
on first use.

>>> policy_from_dict(Cascade(["small", "big"], [0.8]).to_dict())
Cascade(['small', 'big'], [0.8], 'confidence')
>>> policy_from_dict({"kind": "single", "model": "small"})
SingleModel('small')
"""
from __future__ import annotations

import importlib
from typing import Any

from core.errors import InputError
from core.routing.policies.base import NotFittedError, Outcome, Policy, outcome_from_choice
from core.routing.policies.cascade import Cascade, CascadePlan, outcome_at, plan_cascade
from core.routing.policies.ensemble import MajorityEnsemble
from core.routing.policies.fallback import FallbackChain
from core.routing.policies.mix import Mix, mix_arm, mix_share
from core.routing.policies.oracle import Oracle
from core.routing.policies.single import SingleModel
from core.routing.policies.task_router import TaskRouter
from core.routing.policies.value_tiers import ValueTiers
from core.routing.policies.weighted import WeightedSelection

POLICIES: dict[str, type[Policy] | str] = {
    "single": SingleModel,
    "cascade": Cascade,
    "task_router": TaskRouter,
    "value_tiers": ValueTiers,
    "weighted": WeightedSelection,
    "fallback": FallbackChain,
    "majority": MajorityEnsemble,
    "oracle": Oracle,
    "mix": Mix,
    "learned_router": "core.routing.policies.learned:LearnedRouter",
    "prompt_router": "core.routing.policies.prompt_router:PromptRouter",
}

__all__ = ["POLICIES", "Outcome", "Policy", "NotFittedError", "outcome_from_choice",
           "policy_class", "policy_from_dict", "SingleModel", "Cascade", "CascadePlan",
           "plan_cascade", "outcome_at", "TaskRouter", "ValueTiers", "WeightedSelection",
           "FallbackChain", "MajorityEnsemble", "Oracle", "Mix", "mix_arm", "mix_share"]


def policy_class(kind: str) -> type[Policy]:
    """The class registered for ``kind`` (imported on first use for lazy entries)."""
    entry = POLICIES.get(kind)
    if entry is None:
        raise InputError(f"Unknown policy kind '{kind}': known kinds are {', '.join(sorted(POLICIES))}")
    if isinstance(entry, str):
        module, name = entry.split(":")
        entry = getattr(importlib.import_module(module), name)
        POLICIES[kind] = entry
    return entry


def policy_from_dict(d: dict[str, Any]) -> Policy:
    """Rebuild a policy from its ``to_dict()`` form (e.g. a downloaded JSON file)."""
    if not isinstance(d, dict) or "kind" not in d:
        raise InputError(f"A policy must be a JSON object with a 'kind'; got {str(d)[:80]!r}")
    cls = policy_class(d["kind"])
    try:
        return cls.from_dict(d)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"Policy '{d['kind']}' is malformed: {exc}") from None

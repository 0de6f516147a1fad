"""The registry of policy kinds: a saved ``kind`` -> its class.

Adding a strategy means one module and one line in :data:`POLICIES`. Entries given as dotted
paths are imported on first use: the learned routers need scikit-learn (slow to import), and the
mix, which rebuilds its two parts through this registry, must not be imported by it.

>>> policy_from_dict({"kind": "single", "model": "small"})
SingleModel('small')
"""
from __future__ import annotations

from typing import Any

from core.errors import InputError
from core.routing.lazy_registry import registered
from core.routing.policies.base import Policy
from core.routing.policies.cascade import Cascade
from core.routing.policies.ensemble import MajorityEnsemble
from core.routing.policies.fallback import FallbackChain
from core.routing.policies.hybrid import HybridRouter
from core.routing.policies.oracle import Oracle
from core.routing.policies.single import SingleModel
from core.routing.policies.task_router import TaskRouter
from core.routing.policies.value_tiers import ValueTiers
from core.routing.policies.weighted import WeightedSelection

POLICIES: dict[str, type[Policy] | str] = {
    "single": SingleModel,
    "cascade": Cascade,
    "task_router": TaskRouter,
    "hybrid": HybridRouter,
    "value_tiers": ValueTiers,
    "weighted": WeightedSelection,
    "fallback": FallbackChain,
    "majority": MajorityEnsemble,
    "oracle": Oracle,
    "mix": "core.routing.policies.mix:Mix",
    "learned_router": "core.routing.policies.learned:LearnedRouter",
    "prompt_router": "core.routing.policies.prompt_router:PromptRouter",
}


def policy_class(kind: str) -> type[Policy]:
    """The class registered for ``kind`` (imported on first use for lazy entries)."""
    return registered(POLICIES, kind, "policy kind", "kinds")


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

"""Routing policies: each one a small class answering "which model answers this item?".

Every policy has ``fit(evalset) -> self``, ``evaluate(evalset) -> Outcome``, ``to_dict()`` and
the ``models`` it may call; ``policy_from_dict(d)`` rebuilds any of them from JSON. Adding a
strategy means adding one module here that registers its class with ``@register_policy``.

>>> from core.routing.policies import Cascade, policy_from_dict
>>> policy_from_dict(Cascade(["small", "big"], [0.8]).to_dict())
Cascade(['small', 'big'], [0.8], 'confidence')
"""
from core.routing.policies.base import (POLICIES, Outcome, Policy, outcome_from_choice, policy_from_dict,
                                register_policy)
from core.routing.policies.cascade import Cascade, CascadePlan, outcome_at, plan_cascade
from core.routing.policies.ensemble import MajorityEnsemble
from core.routing.policies.fallback import FallbackChain
from core.routing.policies.oracle import Oracle
from core.routing.policies.single import SingleModel
from core.routing.policies.task_router import TaskRouter
from core.routing.policies.value_tiers import ValueTiers
from core.routing.policies.weighted import WeightedSelection

# The learned router registers "learned_router" without importing scikit-learn (slow to load).
from core.routing.policies.learned import LearnedRouter  # noqa: F401

__all__ = ["Outcome", "Policy", "outcome_from_choice", "policy_from_dict", "register_policy",
           "POLICIES", "SingleModel", "Cascade", "CascadePlan", "plan_cascade", "outcome_at",
           "TaskRouter", "ValueTiers", "WeightedSelection", "FallbackChain", "MajorityEnsemble",
           "Oracle"]

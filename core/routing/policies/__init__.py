"""Routing policies: each one a small class answering "which model answers this item?".

Every policy has ``fit(evalset) -> self``, ``evaluate(evalset) -> Outcome``, ``to_dict()`` /
``from_dict()`` and :meth:`~core.routing.policies.base.Policy.models_called`. The registry
(:mod:`core.routing.policies.registry`) maps a saved ``kind`` to its class; adding a strategy
means one module and one line there.

>>> policy_from_dict(Cascade(["small", "big"], [0.8]).to_dict())
Cascade(['small', 'big'], [0.8], 'confidence')
>>> policy_from_dict({"kind": "single", "model": "small"})
SingleModel('small')
"""
from __future__ import annotations

from core.routing.policies.base import NotFittedError, Outcome, Policy, outcome_from_choice
from core.routing.policies.cascade import Cascade, CascadePlan, outcome_at, plan_cascade
from core.routing.policies.ensemble import MajorityEnsemble
from core.routing.policies.fallback import FallbackChain
from core.routing.policies.hybrid import HybridRouter
from core.routing.policies.mix import Mix, mix_arm, mix_share
from core.routing.policies.oracle import Oracle
from core.routing.policies.registry import POLICIES, policy_class, policy_from_dict
from core.routing.policies.single import SingleModel
from core.routing.policies.task_router import TaskRouter
from core.routing.policies.value_tiers import ValueTiers
from core.routing.policies.weighted import WeightedSelection

__all__ = ["POLICIES", "Outcome", "Policy", "NotFittedError", "outcome_from_choice",
           "policy_class", "policy_from_dict", "SingleModel", "Cascade", "CascadePlan",
           "plan_cascade", "outcome_at", "TaskRouter", "HybridRouter", "ValueTiers", "WeightedSelection",
           "FallbackChain", "MajorityEnsemble", "Oracle", "Mix", "mix_arm", "mix_share"]

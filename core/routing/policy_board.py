"""Models and policies side by side on one eval set, ranked by the Cost Efficiency Score.

>>> from core.routing.policies import Cascade
>>> board = efficiency_ranking(es, list(es.models), {"my cascade": Cascade(["small", "big"], [0.5])})
>>> sorted(board["kind"].unique().tolist())
['model', 'policy']
>>> bool(board["rank"].iloc[0] == 1)
True
"""
from __future__ import annotations

import pandas as pd

from core.errors import InputError
from core.evaluation.efficiency import efficiency_scores
from core.evaluation.evalset import EvalSet
from core.evaluation.metrics import leaderboard
from core.routing.policies.base import Policy

COLUMNS = ["name", "kind", "quality", "cost_per_item", "latency_p95"]


def policy_rows(evalset: EvalSet, policies: dict[str, Policy]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Quality, cost per item and p95 latency of each policy on ``evalset`` (as it stands: a
    policy fitted on this eval set is measured in-sample), and why any could not be measured."""
    rows, skipped = [], {}
    for name, policy in policies.items():
        missing = [m for m in policy.models_called() if m not in evalset.models]
        if missing:
            skipped[name] = f"uses {', '.join(missing)}, not in this eval set"
            continue
        try:
            out = policy.evaluate(evalset)
        except InputError as err:
            skipped[name] = str(err)
            continue
        rows.append({"name": name, "kind": "policy", "quality": out.quality,
                     "cost_per_item": out.cost_per_item, "latency_p95": out.latency_percentiles((95,))[95]})
    return pd.DataFrame(rows, columns=COLUMNS), skipped


def efficiency_ranking(evalset: EvalSet, models, policies: dict[str, Policy] | None = None,
                       latency_target_ms: float = 2000.0) -> pd.DataFrame:
    """Every chosen model and policy with its Cost Efficiency Score, best first
    (:func:`core.evaluation.efficiency.efficiency_scores`); ``attrs['skipped']`` names the
    policies that could not be measured and why."""
    board = leaderboard(evalset, list(models))
    frame = pd.DataFrame({"name": board["model"], "kind": "model", "quality": board["quality"],
                          "cost_per_item": board["cost_per_item"], "latency_p95": board["latency_p95"]})
    skipped: dict[str, str] = {}
    if policies:
        extra, skipped = policy_rows(evalset, policies)
        if len(extra):
            frame = pd.concat([frame, extra], ignore_index=True)
    ranked = efficiency_scores(frame, latency_target_ms)
    ranked.attrs["skipped"] = skipped
    return ranked

"""Experiments: A/B replays and shadow comparisons of two policies, saved in the workspace.

    >>> ab = run_ab(es, SingleModel("big"), cascade, name="cheaper-cascade", split=0.5)  # doctest: +SKIP
    >>> ab.verdict.decision, ab.differences["quality"].low                               # doctest: +SKIP
    ('inconclusive', -0.07)
    >>> sh, added = run_shadow(es, SingleModel("big"), cascade, volume=100_000, ws=ws, name="cc")  # doctest: +SKIP
    >>> exp_id = save_experiment(ws, "cheaper-cascade", "ab", definition, ab.to_dict())    # doctest: +SKIP

The statistics live in :mod:`core.evaluation.stats`, assignment in :mod:`core.experiments.assignment`, guardrails and
the verdict in :mod:`core.experiments.guardrails`, the A/B analysis in :mod:`core.experiments.ab` (which also takes
live rows: :func:`core.experiments.ab.analyze`), shadow in :mod:`core.experiments.shadow`, memos in :mod:`core.experiments.memo`.
"""
from __future__ import annotations

import json
from typing import Any

import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.experiments.ab import STAGES, ABResult, analyze, replay_frame
from core.experiments.assignment import check_split, unit_ids
from core.experiments.guardrails import Guardrails
from core.experiments.shadow import ShadowResult, compare, record_shadow_calls
from core.exports import json_safe
from core.pricing.catalog import price_snapshot_date
from core.routing.policies import Policy, policy_from_dict
from core.workspace import Workspace

MIGRATIONS = [
    # v1, the DuckLake baseline: ids come from the 'experiments' lock row (Workspace.next_id)
    """
    create table experiments (
        id integer not null,
        name varchar not null,
        kind varchar not null,            -- ab | shadow
        evalset_name varchar,
        definition json not null,
        results json not null,
        created_at timestamp not null default current_timestamp
    );
    insert into store_locks values ('experiments', 0);
    """,
]


def as_policy(policy: Policy | dict) -> Policy:
    return policy if isinstance(policy, Policy) else policy_from_dict(policy)


def describe_policy(policy: Policy | dict) -> str:
    """A short human description of a policy, e.g. ``'cascade: small -> big (agreement ...)'``."""
    d = policy.to_dict() if isinstance(policy, Policy) else dict(policy)
    kind = d.get("kind", "policy")
    if kind == "single":
        return str(d.get("model"))
    if kind == "cascade":
        sig = d.get("signal") or {}
        sig_text = sig.get("kind", "signal") if isinstance(sig, dict) else str(sig)
        if isinstance(sig, dict) and sig.get("models"):
            sig_text += " of " + ", ".join(sig["models"])
        thr = ", ".join(f"{t:g}" for t in d.get("thresholds", []))
        return f"cascade {' -> '.join(d.get('models', []))} ({sig_text}; threshold {thr})"
    models = sorted({m for k, v in d.items() if "model" in k for m in (v if isinstance(v, list) else [v])
                     if isinstance(m, str)})
    return f"{kind}" + (f" over {', '.join(models)}" if models else "")


def _policy_dict(policy: Policy) -> dict:
    try:
        return policy.to_dict()
    except TypeError:
        return {"kind": getattr(policy, "kind", type(policy).__name__)}


def run_ab(evalset: EvalSet, control: Policy | dict, candidate: Policy | dict, *,
           name: str = "experiment", split: float = 0.5, unit_column: str | None = None,
           tolerance: float = 0.02, guardrails: Guardrails | None = None, alpha: float = 0.05,
           power: float = 0.8, mde: float | None = None, salt: str | None = None,
           stages: tuple[int, ...] = STAGES, n_resamples: int | None = None) -> ABResult:
    """Replay an A/B on a recorded eval set: each unit's items under its arm's policy.

    Both policies are evaluated on every item (vectorized), then each item keeps its arm's
    outcome. ``salt`` defaults to ``name``: renaming an experiment reshuffles its arms.
    """
    check_split(split)
    if not 0 <= tolerance < 1:
        raise InputError(f"Tolerance must be a quality difference between 0 and 1; got {tolerance}")
    if evalset.n_models == 0:
        raise InputError(f"{evalset.name} has no model results to replay; run it live first")
    control, candidate = as_policy(control), as_policy(candidate)
    units = unit_ids(evalset.items, unit_column)
    salt = name if salt is None else salt
    frame = replay_frame(evalset, control.evaluate(evalset), candidate.evaluate(evalset), salt,
                         split, units)
    return analyze(frame, tolerance=tolerance, guardrails=guardrails, alpha=alpha, power=power,
                   mde=mde, salt=salt, stages=stages, n_resamples=n_resamples)


def ab_definition(evalset: EvalSet, control: Policy | dict, candidate: Policy | dict, *,
                  name: str, split: float = 0.5, unit_column: str | None = None,
                  tolerance: float = 0.02, guardrails: Guardrails | None = None,
                  alpha: float = 0.05, power: float = 0.8, mde: float | None = None,
                  salt: str | None = None, **_: Any) -> dict:
    """What was compared and how, saved beside the results (and shown in the memo)."""
    return {
        **_definition("ab", evalset, control, candidate, name, tolerance, guardrails),
        "split": split, "unit_column": unit_column or "item_id", "alpha": alpha, "power": power,
        "mde": mde if mde is not None else tolerance, "salt": name if salt is None else salt,
    }


def _definition(kind: str, evalset: EvalSet, control, candidate, name: str, tolerance: float,
                guardrails: Guardrails | None) -> dict:
    """The fields every experiment definition holds: what was compared, on what, at what prices."""
    control, candidate = as_policy(control), as_policy(candidate)
    sources = sorted(set(evalset.cost_source.values())) or ["unknown"]
    return {
        "name": name, "kind": kind, "evalset": evalset.name, "n_items": evalset.n_items,
        "synthetic": bool(evalset.synthetic),
        "control": _policy_dict(control), "candidate": _policy_dict(candidate),
        "control_label": describe_policy(control), "candidate_label": describe_policy(candidate),
        "tolerance": tolerance, "guardrails": (guardrails or Guardrails()).to_dict(),
        "price_snapshot": price_snapshot_date(), "cost_source": ", ".join(sources),
    }


def run_shadow(evalset: EvalSet, production: Policy | dict, candidate: Policy | dict, *,
               volume: float | None = None, ws: Workspace | None = None,
               name: str = "shadow", alpha: float = 0.05, tolerance: float = 0.02,
               guardrails: Guardrails | None = None) -> tuple[ShadowResult, int]:
    """Shadow replay: both policies on every item; the candidate's calls go to the ledger
    as a simulation (``source='simulation'``: never billed, ``experiment=name``,
    ``variant='candidate'``) when ``ws`` is given.

    Returns the result and the number of ledger rows added (0 when re-recorded or no ``ws``).
    """
    if evalset.n_models == 0:
        raise InputError(f"{evalset.name} has no model results to compare; run it live first")
    if volume is not None and not volume > 0:
        raise InputError(f"Monthly volume must be a positive number of requests; got {volume}")
    production, candidate = as_policy(production), as_policy(candidate)
    cand_outcome = candidate.evaluate(evalset)
    result = compare(evalset, production.evaluate(evalset), cand_outcome, volume, alpha, tolerance,
                     guardrails)
    added = record_shadow_calls(ws, evalset, cand_outcome, name) if ws is not None else 0
    return result, added


def shadow_definition(evalset: EvalSet, production: Policy | dict, candidate: Policy | dict, *,
                      name: str, volume: float | None = None, tolerance: float = 0.02,
                      guardrails: Guardrails | None = None, **_: Any) -> dict:
    return {**_definition("shadow", evalset, production, candidate, name, tolerance, guardrails),
            "volume": volume}


# -- saving ------------------------------------------------------------------------------------
def save_experiment(ws: Workspace, name: str, kind: str, definition: dict, results: dict) -> int:
    """Store an experiment (definition + results JSON); returns its id."""
    if not name or not str(name).strip():
        raise InputError("An experiment needs a name")
    if kind not in ("ab", "shadow"):
        raise InputError(f"Experiment kind must be 'ab' or 'shadow'; got {kind!r}")
    ws.ensure("experiments", MIGRATIONS)
    definition_json = json.dumps(json_safe(definition), allow_nan=False)
    results_json = json.dumps(json_safe(results), allow_nan=False)

    def body(cur) -> int:
        experiment_id = ws.next_id(cur, "experiments", "experiments")
        cur.execute(
            "insert into experiments (id, name, kind, evalset_name, definition, results)"
            " values (?, ?, ?, ?, ?, ?)",
            [experiment_id, str(name).strip(), kind, definition.get("evalset"), definition_json,
             results_json])
        return experiment_id

    return int(ws.write(body))


def list_experiments(ws: Workspace) -> pd.DataFrame:
    """Saved experiments, newest first: id, name, kind, evalset_name, verdict, created_at."""
    ws.ensure("experiments", MIGRATIONS)
    return ws.cursor().execute(
        "select id, name, kind, evalset_name,"
        " json_extract_string(results, '$.verdict.decision') as verdict, created_at"
        " from experiments order by created_at desc, id desc").df()


def load_experiment(ws: Workspace, experiment_id: int) -> dict:
    """``{"id", "name", "kind", "definition", "results", "created_at"}`` of a saved experiment."""
    ws.ensure("experiments", MIGRATIONS)
    row = ws.cursor().execute(
        "select id, name, kind, definition, results, created_at from experiments where id = ?",
        [int(experiment_id)]).fetchone()
    if row is None:
        raise InputError(f"No saved experiment with id {experiment_id}")
    return {"id": row[0], "name": row[1], "kind": row[2], "definition": json.loads(row[3]),
            "results": json.loads(row[4]), "created_at": str(row[5])}


"""Widgets of the Experiments page: policy pickers and experiment settings.

``policy_picker`` returns a policy's dict form (hashable as JSON, so results can be cached)
or None with the reason already shown.
"""
from __future__ import annotations

import json

import numpy as np
import streamlit as st

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.experiments.guardrails import Guardrails

KINDS = ("Single model", "Cascade", "Saved policy")


def model_ranking(evalset: EvalSet) -> tuple[list[str], list[str]]:
    """Models by quality (best first) and by cost per item (cheapest first)."""
    with np.errstate(all="ignore"):
        quality = np.nan_to_num(np.nanmean(evalset.score, axis=0), nan=-1.0) if evalset.n_items else []
        cost = np.nan_to_num(np.nanmean(evalset.cost, axis=0), nan=np.inf) if evalset.n_items else []
    models = list(evalset.models)
    by_quality = [models[i] for i in np.lexsort((cost, -np.asarray(quality)))]
    by_cost = [models[i] for i in np.argsort(cost, kind="stable")]
    return by_quality, by_cost


@st.cache_data(show_spinner=False, max_entries=32)
def _suggest(workspace_path: str, evalset_id: int, steps: tuple[str, ...], signal_json: str) -> float | None:
    from core.routing.frontier import cascade_frontier
    from ui.state import get_evalset

    evalset = get_evalset(evalset_id)
    try:
        fr = cascade_frontier(evalset, list(steps), json.loads(signal_json))
    except InputError:
        return None
    pts = fr.points
    with np.errstate(all="ignore"):
        strong = float(np.nanmean(evalset.score[:, evalset.model_index(steps[-1])]))
    ok = pts[(pts["quality"] >= strong - 0.01) & (pts["t0"] <= 1.0)]
    if ok.empty:
        return None
    return float(ok.sort_values(["cost_per_item", "t0"]).iloc[0]["t0"])


def suggested_threshold(evalset_id, steps: tuple[str, ...], signal_json: str, fallback: float) -> float:
    """The cheapest 2-step threshold keeping quality within 0.01 of the last model (rounded up
    to the slider's 0.01 grid so the cascade never keeps more than the frontier point does)."""
    if evalset_id is None:
        return fallback
    from core.workspace import default_path

    t = _suggest(str(default_path()), int(evalset_id), steps, signal_json)
    if t is None or not np.isfinite(t):
        return fallback
    return float(min(1.0, max(0.0, np.ceil(round(t * 100, 6)) / 100)))


def _default_signal(evalset: EvalSet, steps: list[str]) -> str:
    has_conf = all(not np.isnan(evalset.confidence[:, evalset.model_index(m)]).all() for m in steps[:-1])
    return "confidence" if has_conf else "agreement"


def policy_picker(evalset: EvalSet, key: str, title: str, default: str) -> dict | None:
    """Pick a single model, a cascade with thresholds, or a saved policy. ``default`` is
    ``"strong"`` (best single model) or ``"cascade"`` (cheapest model, then the best)."""
    by_quality, by_cost = model_ranking(evalset)
    st.markdown(f"**{title}**")
    kind = st.radio("Policy", KINDS, index=0 if default == "strong" else 1, key=f"{key}_kind",
                    horizontal=True)
    if kind == "Single model":
        start = by_quality[0] if default == "strong" else by_cost[0]
        model = st.selectbox("Model", list(evalset.models), index=list(evalset.models).index(start),
                             key=f"{key}_model")
        return {"kind": "single", "model": model}
    if kind == "Cascade":
        if evalset.n_models < 2:
            st.info("A cascade needs at least two models in the eval set.")
            return None
        best = by_quality[0]
        cheap = next(m for m in by_cost if m != best)
        steps = st.multiselect("Steps, cheapest first (the last always answers)", list(evalset.models),
                               default=[cheap, best], key=f"{key}_steps")
        if len(steps) < 2:
            st.info("Pick at least two models for the cascade.")
            return None
        signals = ["confidence", "agreement"]
        signal = st.selectbox("Signal", signals, index=signals.index(_default_signal(evalset, steps)),
                              key=f"{key}_signal",
                              help="confidence: the model's own; agreement: cheaper models vote")
        spec: dict = {"kind": signal}
        if signal == "agreement":
            # cheaper steps and other cheap models vote; with only two models the strong one
            # votes too (paid for, so such a cascade saves nothing: the numbers will say so)
            pool_default = list(dict.fromkeys(steps[:-1] + [m for m in by_cost if m not in steps]
                                              + steps[-1:]))[:3]
            pool = st.multiselect("Agreeing models (all are called and paid for)", list(evalset.models),
                                  default=pool_default, key=f"{key}_pool")
            if len(pool) < 2:
                st.info("Agreement needs at least two models.")
                return None
            spec["models"] = pool
        start = 0.67 if signal == "agreement" else 0.8
        if len(steps) == 2:
            start = suggested_threshold(st.session_state.get("evalset_id"), tuple(steps),
                                        json.dumps(spec, sort_keys=True), start)
        thresholds = [
            st.slider(f"Keep {m}'s answer when the signal is at least", 0.0, 1.0, start, 0.01,
                      key=f"{key}_thr_{i}",
                      help="Starts at the cheapest threshold within 0.01 of the last model's quality")
            for i, m in enumerate(steps[:-1])]
        return {"kind": "cascade", "models": steps, "thresholds": thresholds, "signal": spec}
    from core.routing.optimize.store import list_policies, load_policy
    from ui.state import workspace

    saved = list_policies(workspace())
    if saved is None or len(saved) == 0:
        st.info("No saved policies yet: save one on the Cascade tuner or Routing page.")
        return None
    ids = saved["id"].tolist()
    names = dict(zip(ids, saved["name"].astype(str)))
    chosen = st.selectbox("Saved policy", ids, format_func=lambda i: names.get(i, str(i)),
                          key=f"{key}_saved")
    try:
        policy, _meta = load_policy(workspace(), chosen)
    except InputError as err:
        st.error(str(err))
        return None
    d = policy.to_dict()
    missing = [m for m in policy.models_called() if m not in evalset.models]
    if missing:
        st.error(f"This saved policy uses {', '.join(missing)}, which the eval set does not have.")
        return None
    return d


def ab_settings(evalset: EvalSet, key: str = "ab") -> dict:
    """Split, unit, tolerance, guardrails, alpha/power: keyword arguments of ``run_ab``."""
    c1, c2, c3 = st.columns(3)
    with c1:
        name = st.text_input("Experiment name (also the assignment salt)", "cheaper-policy",
                             key=f"{key}_name")
        split = st.slider("Candidate traffic share", 0.05, 0.95, 0.5, 0.05, key=f"{key}_split")
        units = ["item_id"] + [c for c in evalset.metadata_columns]
        unit = st.selectbox("Unit of assignment", units, key=f"{key}_unit",
                            format_func=lambda c: "request (item_id)" if c == "item_id" else f"{c} column")
    with c2:
        tolerance = st.number_input("Tolerance: largest acceptable quality drop", 0.0, 0.5, 0.02, 0.005,
                                    format="%.3f", key=f"{key}_tol")
        alpha = st.number_input("Alpha (two-sided)", 0.001, 0.2, 0.05, 0.01, format="%.3f", key=f"{key}_alpha")
        power = st.number_input("Power", 0.5, 0.99, 0.8, 0.05, key=f"{key}_power")
    with c3:
        guard = guardrail_settings(key, tolerance)
    return {"name": name.strip() or "experiment", "split": float(split), "unit_column": unit,
            "tolerance": float(tolerance), "alpha": float(alpha), "power": float(power), **guard}


def guardrail_settings(key: str, tolerance: float) -> dict:
    st.markdown("Guardrails (fire when strictly above)")
    err = st.number_input("Error rate above × baseline", 1.0, 10.0, 1.5, 0.1, key=f"{key}_g_err")
    lat = st.number_input("p95 latency above × baseline", 1.0, 10.0, 1.5, 0.1, key=f"{key}_g_lat")
    # keyed by the tolerance: changing the tolerance resets this rule to it
    drop = st.number_input("Quality drop above", 0.0, 0.5, float(tolerance), 0.005, format="%.3f",
                           key=f"{key}_g_drop_{tolerance:g}")
    return {"guardrails": {"error_ratio": float(err), "latency_ratio": float(lat), "quality_drop": float(drop)}}


def guardrails_from(settings: dict) -> Guardrails:
    return Guardrails(**settings["guardrails"])

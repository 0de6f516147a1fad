"""Policy widgets shared by pages: pick a policy over an eval set's models, and save one.

``policy_picker`` returns a policy's dict form (hashable as JSON, so pages cache results by it;
``core.routing.policies.policy_from_dict`` rebuilds the policy) or None with the reason already
shown. Switching to an eval set with other models starts it afresh instead of keeping choices
the new set cannot honour.
"""
from __future__ import annotations

import json

import numpy as np
import streamlit as st

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.optimize.store import list_policies, load_policy, policy_json, save_policy
from core.routing.policies import Policy, policy_from_dict
from ui.state import evalset_version, follow, get_evalset, seed, workspace

KINDS = ("Single model", "Cascade", "Saved policy", "Policy file")
DEFAULTS = ("best", "cheapest", "cascade")


@st.cache_data(show_spinner=False, max_entries=32)
def _suggest(workspace_path: str, evalset_id: int, version: str, steps: tuple[str, ...],
             signal_json: str) -> float | None:
    from core.routing.frontier import cascade_frontier

    evalset = get_evalset(evalset_id)
    try:
        fr = cascade_frontier(evalset, list(steps), json.loads(signal_json))
    except InputError:
        return None
    pts = fr.points
    strong = evalset.model_stats.loc[steps[-1], "quality"]
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

    t = _suggest(str(default_path()), int(evalset_id), evalset_version(evalset_id), steps, signal_json)
    if t is None or not np.isfinite(t):
        return fallback
    return float(min(1.0, max(0.0, np.ceil(round(t * 100, 6)) / 100)))


def policy_picker(evalset: EvalSet, key: str, title: str, default: str = "best") -> dict | None:
    """Pick a single model, a cascade with thresholds, a saved policy or a policy file.

    ``default``: ``"best"`` (the best single model), ``"cheapest"`` (the cheapest one) or
    ``"cascade"`` (the cheapest model escalating to the best).
    """
    by_quality, by_cost = list(evalset.quality_order), list(evalset.cost_order)
    # another eval set with other models: start afresh (the widgets below are seeded through
    # Session State, so the browser drops the old models too)
    follow(f"policy_{key}", "\x00".join(evalset.models), prefix=f"{key}_")
    st.markdown(f"**{title}**")
    kind = st.radio("Policy", KINDS, index=1 if default == "cascade" else 0, key=f"{key}_kind",
                    horizontal=True)
    if kind == "Single model":
        start = by_cost[0] if default == "cheapest" else by_quality[0]
        model = st.selectbox("Model", list(evalset.models), key=seed(f"{key}_model", start))
        return {"kind": "single", "model": model}
    if kind == "Cascade":
        return _cascade_picker(evalset, key, by_quality, by_cost)
    if kind == "Saved policy":
        return _saved_picker(evalset, key)
    return _file_picker(evalset, key)


def _cascade_picker(evalset: EvalSet, key: str, by_quality: list[str], by_cost: list[str]) -> dict | None:
    if evalset.n_models < 2:
        st.info("A cascade needs at least two models in the eval set.")
        return None
    best = by_quality[0]
    cheap = next(m for m in by_cost if m != best)
    steps = st.multiselect("Steps, cheapest first (the last always answers)", list(evalset.models),
                           key=seed(f"{key}_steps", [cheap, best]))
    if len(steps) < 2:
        st.info("Pick at least two models for the cascade.")
        return None
    has_conf = all(evalset.model_stats.loc[m, "has_confidence"] for m in steps[:-1])
    signals = ["confidence", "agreement"]
    signal = st.selectbox("Signal", signals, index=0 if has_conf else 1, key=f"{key}_signal",
                          help="confidence: the model's own; agreement: cheaper models vote")
    spec: dict = {"kind": signal}
    if signal == "agreement":
        # cheaper steps and other cheap models vote; with only two models the strong one
        # votes too (paid for, so such a cascade saves nothing: the numbers will say so)
        pool_default = list(dict.fromkeys(steps[:-1] + [m for m in by_cost if m not in steps]
                                          + steps[-1:]))[:3]
        pool = st.multiselect("Agreeing models (all are called and paid for)", list(evalset.models),
                              key=seed(f"{key}_pool", pool_default))
        if len(pool) < 2:
            st.info("Agreement needs at least two models.")
            return None
        spec["models"] = pool
    start = 0.67 if signal == "agreement" else 0.8
    if len(steps) == 2:
        start = suggested_threshold(st.session_state.get("evalset_id"), tuple(steps),
                                    json.dumps(spec, sort_keys=True), start)
    thresholds = [
        st.slider(f"Keep {m}'s answer when the signal is at least", 0.0, 1.0, step=0.01,
                  key=seed(f"{key}_thr_{i}", start),
                  help="Starts at the cheapest threshold within 0.01 of the last model's quality")
        for i, m in enumerate(steps[:-1])]
    return {"kind": "cascade", "models": steps, "thresholds": thresholds, "signal": spec}


def _usable(evalset: EvalSet, policy: Policy) -> dict | None:
    missing = [m for m in policy.models_called() if m not in evalset.models]
    if missing:
        st.error(f"This policy uses {', '.join(missing)}, which the eval set does not have.")
        return None
    return policy.to_dict()


def _saved_picker(evalset: EvalSet, key: str) -> dict | None:
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
    return _usable(evalset, policy)


def _file_picker(evalset: EvalSet, key: str) -> dict | None:
    upload = st.file_uploader("Policy JSON (from `python -m core fit` or a downloaded policy)",
                              type=["json"], key=f"{key}_file")
    if upload is None:
        return None
    try:
        data = json.loads(upload.getvalue())
        spec = data.get("policy") if isinstance(data, dict) and isinstance(data.get("policy"), dict) else data
        return _usable(evalset, policy_from_dict(spec))
    except (json.JSONDecodeError, UnicodeDecodeError):
        st.error(f"{upload.name}: not a JSON policy file")
    except InputError as err:
        st.error(f"{upload.name}: not a policy this app can read ({err})")
    return None


def save_policy_panel(policy: Policy, meta: dict, default_name: str, key: str,
                      name_key: str | None = None) -> None:
    """Download the policy as JSON (the file `python -m core score` reads) or save it.

    ``name_key`` lets a page reset the suggested name when the kind of policy changes.
    """
    with st.expander("Save this policy", expanded=False):
        name = st.text_input("Policy name", value=default_name, key=name_key or f"{key}_policy_name")
        st.download_button("Download as JSON", policy_json(policy, meta),
                           file_name=f"{key}_policy.json", mime="application/json",
                           key=f"{key}_download")
        if st.button("Save to workspace", key=f"{key}_save"):
            try:
                save_policy(workspace(), name, policy, meta)
            except InputError as err:
                st.error(str(err))
            else:
                st.success(f"Saved '{name}' to the workspace.")

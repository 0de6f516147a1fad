"""Pick a routing policy for the ladder and the projections: one model, a cascade, or a policy file."""
from __future__ import annotations

import json

import numpy as np
import streamlit as st

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.policies import Cascade, Policy, SingleModel, policy_from_dict
from core.spend.throttle import frontier_model


def models_by_cost(evalset: EvalSet) -> list[str]:
    """Models, cheapest first (unknown cost last)."""
    with np.errstate(all="ignore"):
        cost = np.nanmean(evalset.cost, axis=0)
    order = np.argsort(np.nan_to_num(cost, nan=np.inf), kind="stable")
    return [evalset.models[i] for i in order]


def policy_picker(evalset: EvalSet, label: str, key: str, default: str = "frontier") -> Policy | None:
    """A policy over the eval set's models; ``default`` 'frontier' or 'cheapest' single model."""
    models = models_by_cost(evalset)
    kind = st.radio(label, ["Single model", "Cascade", "Policy file"], horizontal=True, key=f"{key}_kind")
    if kind == "Single model":
        start = frontier_model(evalset) if default == "frontier" else models[0]
        model = st.selectbox("Model", models, index=models.index(start), key=f"{key}_model")
        return SingleModel(model)
    if kind == "Cascade":
        if len(models) < 2:
            st.info("A cascade needs two models.")
            return None
        chosen = st.multiselect("Models, cheapest first", models,
                                default=[models[0], frontier_model(evalset)]
                                if models[0] != frontier_model(evalset) else models[:2],
                                key=f"{key}_models")
        if len(chosen) < 2:
            st.info("Pick at least two models.")
            return None
        threshold = st.slider("Escalate below this confidence", 0.0, 1.0, 0.7, 0.01,
                              key=f"{key}_threshold")
        return Cascade(chosen, [threshold] * (len(chosen) - 1))
    upload = st.file_uploader("Policy JSON (from `python -m core fit` or a downloaded policy)",
                              type=["json"], key=f"{key}_file")
    if upload is None:
        return None
    try:
        data = json.loads(upload.getvalue())
        spec = data.get("policy") if isinstance(data, dict) and isinstance(data.get("policy"), dict) else data
        return policy_from_dict(spec)
    except (json.JSONDecodeError, UnicodeDecodeError):
        st.error(f"{upload.name}: not a JSON policy file")
    except (InputError, KeyError, TypeError, ValueError) as err:
        st.error(f"{upload.name}: not a policy this app can read ({err})")
    return None

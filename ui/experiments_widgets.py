"""Widgets of the Experiments page: experiment settings (the policy picker is shared:
:mod:`ui.policy_widgets`)."""
from __future__ import annotations

import streamlit as st

from core.evaluation.evalset import EvalSet


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

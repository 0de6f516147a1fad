"""The optimizer's goal as a form (what to reach, which model, how much), never ``match:`` syntax."""
from __future__ import annotations

import streamlit as st

from core.routing.optimize.goals import MATCH_TOLERANCE, Goal

KINDS = {
    "match": "Match a model's quality",
    "quality": "Reach a quality",
    "cost": "Stay within a cost per item",
    "share": "Call a model on at most a share of items",
}


def goal_form(models: list[str], strong: str, key: str) -> Goal:
    """Widgets for a goal; the Goal they describe (``str(goal)`` is the CLI's ``--goal``)."""
    c1, c2, c3 = st.columns([2, 2, 1])
    kind = c1.selectbox("Goal", list(KINDS), format_func=KINDS.get, key=f"{key}_kind")
    if kind in ("match", "share"):
        model = c2.selectbox("Model", models, index=models.index(strong) if strong in models else 0,
                             key=f"{key}_model")
        if kind == "match":
            points = c3.number_input("Within (points)", 0.0, 10.0, MATCH_TOLERANCE * 100, step=0.5,
                                     key=f"{key}_tolerance",
                                     help="0: at least that model's quality on the same rows")
            return Goal("match", model, None, points / 100)
        share = c3.number_input("At most (%)", 0.0, 100.0, 20.0, step=5.0, key=f"{key}_share")
        return Goal("share", model, share / 100)
    if kind == "quality":
        value = c2.number_input("Quality at least", 0.0, 1.0, 0.9, step=0.01, key=f"{key}_quality")
        return Goal("quality", None, value)
    value = c2.number_input("Cost per item at most (USD)", 0.0, value=0.001, step=0.0001,
                            format="%.6f", key=f"{key}_cost")
    return Goal("cost", None, value)

"""Compare page: the Cost Efficiency Score, defined, and models and saved policies ranked by it."""
from __future__ import annotations

import streamlit as st

from core.errors import InputError
from core.evaluation.efficiency import DEFINITION
from core.routing.optimize.store import list_policies, load_policy
from core.routing.policy_board import efficiency_ranking
from core.workspace import default_path
from ui.state import get_evalset, workspace

MAX_POLICIES = 20  # the newest saved policies ranked beside the models


@st.cache_data(show_spinner="Measuring the saved policies...", max_entries=32)
def _ranking(ws_path: str, set_id: int, version: str, models: tuple[str, ...],
             policy_ids: tuple[int, ...], target_ms: float):
    policies, skipped = {}, {}
    for pid in policy_ids:
        try:
            policy, meta = load_policy(workspace(), pid)
        except InputError as err:
            skipped[f"policy {pid}"] = str(err)
            continue
        policies[f"{meta['name']} (#{pid})"] = policy
    board = efficiency_ranking(get_evalset(set_id), list(models), policies, target_ms)
    board.attrs["skipped"] = {**skipped, **board.attrs.get("skipped", {})}
    return board


def efficiency_section(set_id: int, version: str, models: tuple[str, ...]) -> None:
    """The "Cost Efficiency Score" section: definition, latency target, ranking table."""
    st.subheader("Cost Efficiency Score")
    st.markdown(DEFINITION)
    left, right = st.columns(2)
    target = left.number_input("Latency target (p95, ms)", min_value=1.0, value=2000.0, step=250.0,
                               key="compare_ces_target")
    with_policies = right.toggle("Rank saved policies too", value=True, key="compare_ces_policies")
    saved = list_policies(workspace()) if with_policies else None
    ids = tuple(int(i) for i in saved["id"].head(MAX_POLICIES)) if saved is not None and len(saved) else ()
    board = _ranking(str(default_path()), set_id, version, models, ids, float(target))
    st.dataframe(
        board[["rank", "name", "kind", "ces", "quality", "cost_per_item", "quality_per_dollar",
               "latency_p95", "latency_factor", "note"]],
        hide_index=True, width="stretch", key="compare_ces_table",
        column_config={
            "ces": st.column_config.NumberColumn("Cost Efficiency Score", format="%.1f"),
            "quality": st.column_config.NumberColumn(format="%.3f"),
            "cost_per_item": st.column_config.NumberColumn("$ / item", format="$%.6f"),
            "quality_per_dollar": st.column_config.NumberColumn("quality per $1", format="%.1f"),
            "latency_p95": st.column_config.NumberColumn("p95 ms", format="%.0f"),
            "latency_factor": st.column_config.NumberColumn("latency factor", format="%.2f"),
        })
    st.caption("Measured on this eval set (in-sample for a policy fitted on it), no interval; a "
               "per-dollar score favours cheap models, so read it beside quality. Policies: the "
               f"{MAX_POLICIES} newest saved ones whose models this eval set has.")
    skipped = board.attrs.get("skipped") or {}
    if skipped:
        st.caption("Not ranked: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))

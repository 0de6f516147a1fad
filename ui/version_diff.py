"""Compare models, "Diff two versions or runs": the eval set on screen (B) against another stored
version or run (A), item by item, with regressions and improvements sorted by change."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.evaluation.item_diff import ItemDiff, diff_items
from core.evaluation.store import list_evalsets
from ui.state import evalset_label, evalset_version, get_evalset, workspace

TABLE_CONFIG = {
    "score_a": st.column_config.NumberColumn("score A", format="%.3f"),
    "score_b": st.column_config.NumberColumn("score B", format="%.3f"),
    "change": st.column_config.NumberColumn("change", format="%+.3f"),
    "cost_a": st.column_config.NumberColumn("$ A", format="$%.6f"),
    "cost_b": st.column_config.NumberColumn("$ B", format="$%.6f"),
    "input_changed": st.column_config.CheckboxColumn("input changed"),
}


@st.cache_data(show_spinner="Matching items...", max_entries=16)
def _diff(ws_path: str, id_a: int, version_a: str, model_a: str, id_b: int, version_b: str,
          model_b: str, label_a: str, label_b: str) -> ItemDiff:
    return diff_items(get_evalset(id_a), model_a, get_evalset(id_b), model_b, label_a, label_b)


def default_other(sets: pd.DataFrame, set_id: int, others: list[int]) -> int:
    """The version to diff with first: this set's parent, else the newest other set of its name,
    else the newest other set."""
    row = sets[sets["id"] == set_id].iloc[0]
    parent = row.get("parent_id")
    if parent is not None and not pd.isna(parent) and int(parent) in others:
        return int(parent)
    same = sets[(sets["name"] == row["name"]) & sets["id"].isin(others)]
    return int(same["id"].iloc[0]) if len(same) else others[0]


def version_diff_section(ws_path: str, set_id: int, models: tuple[str, ...]) -> None:
    st.subheader("Diff two versions or runs")
    sets = list_evalsets(workspace())
    others = sets[(sets["id"] != set_id) & (sets["n_models"] > 0)]["id"].astype(int).tolist()
    if not others:
        st.caption("Store another version of this eval set (upload it again, or re-run its "
                   "inputs on the Live run page or with `python -m core run`) to diff it item "
                   "by item.")
        return
    labels = {int(r.id): evalset_label(r) for r in sets.itertuples()}
    first = default_other(sets, set_id, others)
    left, right = st.columns(2)
    id_a = left.selectbox("A (before)", others, index=others.index(first), format_func=labels.get,
                          key=f"diff_other_{set_id}")
    model_b = right.selectbox("Model in B (this eval set)", models, key=f"diff_model_b_{set_id}")
    models_a = list(get_evalset(id_a).models)
    model_a = left.selectbox("Model in A", models_a,
                             index=models_a.index(model_b) if model_b in models_a else 0,
                             key=f"diff_model_a_{set_id}_{id_a}")
    diff = _diff(ws_path, id_a, evalset_version(id_a), model_a, set_id, evalset_version(set_id),
                 model_b, f"A ({labels[id_a]})", f"B ({labels[set_id]})")
    st.caption(f"Change = score in B − score in A on each item of both (matched by item_id). "
               f"{diff.summary_line()}")
    down, up = st.columns(2)
    with down:
        st.markdown(f"**Regressions** ({len(diff.regressions):,}), largest drop first")
        st.dataframe(diff.regressions, hide_index=True, key="diff_regressions",
                     column_config=TABLE_CONFIG)
    with up:
        st.markdown(f"**Improvements** ({len(diff.improvements):,}), largest gain first")
        st.dataframe(diff.improvements, hide_index=True, key="diff_improvements",
                     column_config=TABLE_CONFIG)

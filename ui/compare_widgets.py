"""Widgets of the Compare models page: where the models disagree, narrow, with one item's
answers side by side on click."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st


def disagreement_view(table: pd.DataFrame, models) -> pd.DataFrame:
    """One narrow row per item: id, task, the score spread (widest first) and each model's score;
    the answers themselves are shown side by side for the row clicked.

    >>> t = pd.DataFrame({"item_id": ["1", "2"], "input": ["q1", "q2"], "a answer": ["x", "y"],
    ...                   "a score": [1.0, 0.5], "b answer": ["z", "y"], "b score": [0.0, 0.25]})
    >>> disagreement_view(t, ["a", "b"]).values.tolist()
    [['1', 1.0, 1.0, 0.0], ['2', 0.25, 0.5, 0.25]]
    """
    scores = table[[f"{m} score" for m in models]].to_numpy(dtype=float)
    with np.errstate(all="ignore"):
        spread = np.where(np.isnan(scores).all(axis=1), np.nan,
                          np.nanmax(np.where(np.isnan(scores), -np.inf, scores), axis=1)
                          - np.nanmin(np.where(np.isnan(scores), np.inf, scores), axis=1))
    view = table[[c for c in ("item_id", "task") if c in table]].copy()
    view["spread"] = spread
    for m in models:
        view[m] = table[f"{m} score"].astype(float)
    return view.sort_values("spread", ascending=False, kind="stable", na_position="last",
                            ignore_index=True)


def disagreement_panel(table: pd.DataFrame, models, key: str) -> None:
    view = disagreement_view(table, models)
    event = st.dataframe(
        view, hide_index=True, key=key, on_select="rerun", selection_mode="single-row",
        column_config={"spread": st.column_config.NumberColumn("score spread", format="%.2f"),
                       **{m: st.column_config.NumberColumn(f"{m} score", format="%.2f")
                          for m in models}})
    rows = event.selection.rows if event is not None else []
    if not rows:
        st.caption("Click a row to read its answers side by side.")
        return
    item = table.set_index(table["item_id"].astype(str)).loc[str(view["item_id"].iloc[rows[0]])]
    st.markdown(f"**Item {item.name}**" + (f" · task {item['task']}" if "task" in item else ""))
    if "input" in item and pd.notna(item["input"]):
        st.text(str(item["input"]))
    if "label" in item and pd.notna(item["label"]):
        st.caption(f"Label: {item['label']}")
    for col, m in zip(st.columns(len(models)), models):
        with col.container(border=True):
            score = item[f"{m} score"]
            st.markdown(f"**{m}** · score {'n/a' if pd.isna(score) else f'{score:.2f}'}")
            answer = item[f"{m} answer"]
            st.text("(no answer)" if pd.isna(answer) else str(answer))
            if f"{m} reads" in item and pd.notna(item[f"{m} reads"]):
                st.caption(f"The scorer read: {item[f'{m} reads']}")

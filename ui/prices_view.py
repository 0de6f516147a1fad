"""The price table of the Prices page: every cell reads as a price, a dash or a word, never
``None``."""
from __future__ import annotations

import pandas as pd
import streamlit as st

OPTIONAL_PRICES = ("cached_read_per_mtok", "cached_write_per_mtok")


def price_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """The catalog rows as shown: prices a model does not have (no prompt cache) read "—",
    blank text reads "", and the numbers keep their precision.

    >>> view = price_cells(pd.DataFrame({"cached_read_per_mtok": [0.3, None],
    ...                                  "cached_write_per_mtok": [np.nan, 3.75], "note": [None, "x"]}))
    >>> view.values.tolist()
    [['0.3', '—', ''], ['—', '3.75', 'x']]
    """
    view = frame.copy()
    for col in OPTIONAL_PRICES:
        if col in view:
            view[col] = ["—" if pd.isna(v) else f"{v:.4g}" for v in view[col]]
    for col in view.columns:
        if view[col].dtype == object or pd.api.types.is_string_dtype(view[col]):
            view[col] = view[col].where(view[col].notna(), "").astype(str)
    return view


def price_table(shown: pd.DataFrame, key: str) -> None:
    st.dataframe(
        price_cells(shown), hide_index=True, width="stretch", height=420, key=key,
        column_config={
            "input_per_mtok": st.column_config.NumberColumn("Input $/MTok", format="%.4g"),
            "output_per_mtok": st.column_config.NumberColumn("Output $/MTok", format="%.4g"),
            "cached_read_per_mtok": st.column_config.TextColumn("Cached read $/MTok"),
            "cached_write_per_mtok": st.column_config.TextColumn("Cache write $/MTok"),
            "tiers": st.column_config.TextColumn("Tiers"),
            "in_effect": st.column_config.CheckboxColumn("In effect"),
            "estimate": st.column_config.CheckboxColumn("Estimate"),
            "snapshot_date": st.column_config.TextColumn("Taken on"),
        },
    )


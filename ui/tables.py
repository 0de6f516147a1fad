"""Table columns formatted one way on every page: money reads with thousands separators."""
from __future__ import annotations

import streamlit as st


def money_column(label: str | None = None, decimals: int = 4, **kwargs):
    """A US-dollar column of ``st.dataframe``: ``$12,345.6789`` (printf with Streamlit's thousands
    flag; its named ``"dollar"`` format rounds to cents, too coarse for a cost per item)."""
    return st.column_config.NumberColumn(label, format=f"$%,.{int(decimals)}f", **kwargs)

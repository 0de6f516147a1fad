"""The budget alert banner, shown in the sidebar of every page (wired in app.py)."""
from __future__ import annotations

import streamlit as st

from core.errors import InputError
from core.spend.budgets import alert_status
from core.workspace import Workspace


def render(ws: Workspace) -> None:
    """One line per budget at 70%, 90% or 100% of its amount this period; nothing otherwise."""
    try:
        alerts = alert_status(ws)
    except InputError as err:  # a budget row the user can fix on the Budgets page
        st.warning(f"Budgets: {err}")
        return
    for alert in alerts:
        show = st.error if alert.level == 100 else st.warning
        show(f"**{alert.level}% budget alert.** {alert.message}", icon=":material/savings:")

"""Gateway: what is deployed, live traffic and spend by policy, failures, budgets, keys, webhooks.

Widgets -> ``core.gateway`` (console, deployments, budgets, apikeys, webhooks) -> tables and a
plotly chart. ``python -m core serve`` on the same workspace serves what is deployed here.
"""
from __future__ import annotations

import streamlit as st

from core.gateway.console import budget_table, server_status
from core.gateway.runtime import runtime_dir
from ui.gateway_widgets import (
    MONEY,
    budget_form,
    deploy_panel,
    keys_panel,
    live_traffic,
    webhooks_panel,
)
from ui.state import workspace

st.title("Gateway")
ws = workspace()
server = server_status(runtime_dir())
if server["running"]:
    st.success(f"A gateway is serving this workspace (store {server['store']}, "
               f"{server['rows_committed'] or 0:,} call(s) committed since it started).")
else:
    st.info("No gateway is running on this workspace. Start one with `python -m core serve --port 8787`; "
            "applications then point their OpenAI client's base_url at http://HOST:8787/v1 and call "
            "model='tradeoff/NAME'.")

st.subheader("Deploy a saved policy")
deploy_panel(ws)

st.subheader("Traffic and spend, last 24 hours")
live_traffic(ws)  # refreshes itself every few seconds

st.subheader("Budgets")
st.caption("Gateway budgets count the gateway's calls: overall, per team (X-Tradeoff-Team) and per "
           "key. Alerts go to the webhooks at 70%, 90% and 100%, once per period.")
state = budget_table(ws)
if not state.empty:
    st.dataframe(state, hide_index=True, key="gw_budget_table", column_config={
        "limit_usd": MONEY, "spent_usd": MONEY,
        "used": st.column_config.ProgressColumn("used", format="percent", min_value=0.0, max_value=1.0)})
budget_form(ws)

st.subheader("Keys")
keys_panel(ws)

st.subheader("Webhooks")
webhooks_panel(ws)

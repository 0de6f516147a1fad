"""Widgets of the Gateway page: deploy, traffic chart, budgets, keys and webhooks panels.

Each panel reads and writes through ``core.gateway`` functions; an InputError is shown on the
page where it happened.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.express as px
import streamlit as st

from core.errors import InputError
from core.gateway import apikeys, budgets, webhooks
from core.gateway.console import deployable, deployed, recent_failures, traffic_by_policy, traffic_per_minute
from core.gateway.deployments import deploy, saved_policies, undeploy
from core.pricing.catalog import price_snapshot_date
from core.spend.budgets import PERIODS
from core.spend.reports import money
from core.workspace import Workspace
from ui.errors import guarded
from ui.tables import money_column

MONEY = money_column(decimals=4)


def _flash(key: str, message: str) -> None:
    st.session_state[f"{key}_flash"] = message
    st.rerun()


def _show_flash(key: str) -> None:
    if message := st.session_state.pop(f"{key}_flash", None):
        st.success(message)


def deploy_panel(ws: Workspace) -> None:
    """Pick a saved policy, click Deploy: clients call it as tradeoff/NAME."""
    saved = deployable(ws)
    if saved.empty:
        st.info("No saved policy yet: save one on the Cascade tuner or Routing page, then deploy it here.")
    else:
        labels = [f"{r.name} ({r.kind}) → tradeoff/{r.deploy_as}" for r in saved.itertuples()]
        choice = st.selectbox("Saved policy", labels, key="gw_deploy_choice")
        if st.button("Deploy to the gateway", key="gw_deploy", type="primary", icon=":material/rocket_launch:"):
            row = saved.iloc[labels.index(choice)]
            done = deploy(ws, row["deploy_as"] or f"policy-{row['id']}", int(row["id"]))
            _flash("gw_deploy", f"Deployed {row['name']} as tradeoff/{done['name']} (revision "
                                f"{done['revision']}): running gateways serve it within a second.")
    _show_flash("gw_deploy")
    current = deployed(ws)
    if current.empty:
        st.caption("Nothing deployed: clients can still call saved policies by name (tradeoff/NAME) "
                   "and models directly (PROVIDER:MODEL).")
        return
    st.dataframe(current, hide_index=True, key="gw_deployed_table")
    with st.expander("Undeploy"):
        name = st.selectbox("Deployment", current["name"].tolist(), key="gw_undeploy_choice")
        if st.button("Undeploy", key="gw_undeploy", icon=":material/block:"):
            undeploy(ws, name)
            _flash("gw_deploy", f"Undeployed tradeoff/{name}.")


def cost_basis_note(unknown_calls: int, today: dt.date | None = None) -> str:
    """Where the gateway's figures come from: billed calls, priced how, with prices how old."""
    snapshot = price_snapshot_date()
    try:
        age = f", {((today or dt.date.today()) - dt.date.fromisoformat(snapshot)).days} days old"
    except ValueError:
        age = ""
    note = (f"Billed spend: the tokens each provider reported for each call, priced with the catalog "
            f"of {snapshot}{age} and this workspace's price edits (Prices page).")
    if unknown_calls:
        note += (f" {unknown_calls:,} call(s) of a model with no price are counted as unknown, not "
                 "as $0: add its price on the Prices page.")
    return note


@st.fragment(run_every=5.0)
@guarded
def live_traffic(ws: Workspace) -> None:
    """Requests, spend, failures and fallbacks per policy (last 24 h) and per minute (last hour),
    from the ledger the running gateway commits every half second; reread every 5 s."""
    traffic = traffic_by_policy(ws, hours=24)
    if traffic.empty:
        st.caption("No gateway traffic in the last 24 hours.")
        return
    m = st.columns(4)
    m[0].metric("Requests", f"{int(traffic['requests'].sum()):,}")
    m[1].metric("Spend", money(float(traffic["cost_usd"].sum())))
    m[2].metric("Failed provider calls", f"{int(traffic['failed_calls'].sum()):,}")
    m[3].metric("Escalated or fell back", f"{int(traffic['escalated_or_fell_back'].sum()):,}")
    st.dataframe(traffic, hide_index=True, key="gw_traffic_table", column_config={"cost_usd": MONEY})
    st.caption(cost_basis_note(int(traffic["unknown_cost_calls"].sum())))
    per_minute = traffic_per_minute(ws, minutes=60)
    if not per_minute.empty:
        fig = px.bar(per_minute, x="minute", y="requests", color="policy", height=280,
                     hover_data={"cost_usd": ":$.4f"})
        fig.update_layout(margin=dict(l=40, r=10, t=20, b=30), legend_title_text="policy")
        # always the last hour, a bar per minute (one minute of traffic alone would be drawn on
        # an axis of milliseconds)
        end = per_minute["minute"].max() + pd.Timedelta(minutes=1)
        fig.update_xaxes(range=[end - pd.Timedelta(minutes=61), end], tickformat="%H:%M",
                         title_text="minute (UTC)")
        fig.update_traces(width=50_000)  # ms: most of a minute
        st.plotly_chart(fig, key="gw_traffic_chart")
    failures = recent_failures(ws)
    if not failures.empty:
        st.caption("Failed provider calls (retried, then the fallback chain)")
        st.dataframe(failures, hide_index=True, key="gw_failures_table")


def budget_form(ws: Workspace) -> None:
    """Set a gateway budget (overall, a team, a key) and its action."""
    servable = sorted(set(deployed(ws)["name"]) | set(saved_policies(ws)))
    with st.form("gw_budget_form"):
        c = st.columns(4)
        scope = c[0].selectbox("Scope", budgets.SCOPES, key="gw_budget_scope")
        subject = c[1].text_input("Team or key (not for overall)", key="gw_budget_subject")
        period = c[2].selectbox("Period", PERIODS, key="gw_budget_period")
        limit = c[3].number_input("Limit (USD)", min_value=0.0, value=100.0, step=10.0, key="gw_budget_limit")
        c = st.columns(3)
        action = c[0].selectbox("Action", budgets.ACTIONS, key="gw_budget_action",
                                help="alert: webhooks only; switch: to a cheaper policy; refuse: "
                                     "non-urgent requests get a 429; stop: every request gets a 429")
        switch_to = c[1].selectbox("Cheaper policy (switch)", ["", *servable], key="gw_budget_switch_to",
                                   format_func=lambda name: f"tradeoff/{name}" if name else "(none)",
                                   help="A deployed or saved policy the gateway serves instead once the "
                                        "action applies (action 'switch' only).")
        at = c[2].selectbox("Action applies at", budgets.THRESHOLDS, index=2, key="gw_budget_at",
                            format_func=lambda v: f"{v}%")
        if st.form_submit_button("Save budget", icon=":material/save:"):
            try:
                made = budgets.set_budget(ws, scope, period, limit, subject=subject, action=action,
                                          switch_to=switch_to, action_at=at, servable=set(servable))
            except InputError as err:
                st.error(str(err))
            else:
                _flash("gw_budget", f"Saved: {budgets.describe(made)} of ${made['limit_usd']:,.2f}.")
    _show_flash("gw_budget")


def keys_panel(ws: Workspace) -> None:
    keys = apikeys.list_keys(ws)
    if made := st.session_state.pop("gw_new_key", None):
        st.warning(f"Key '{made['name']}' (id {made['key_id']}): copy it now, it is shown once.")
        st.code(made["key"], language=None)
    with st.form("gw_key_form"):
        name = st.text_input("New key's name (the app or team using it)", key="gw_key_name")
        if st.form_submit_button("Create key", icon=":material/key:"):
            try:
                st.session_state["gw_new_key"] = apikeys.create_key(ws, name)
            except InputError as err:
                st.error(str(err))
            else:
                st.rerun()
    if keys.empty:
        st.caption("No gateway key: the gateway serves anyone who can reach it. Once a key exists, "
                   "every request must send an active one as its API key.")
        return
    st.dataframe(keys, hide_index=True, key="gw_keys_table")
    active = keys.loc[keys["active"], "name"].tolist()
    if active:
        gone = st.selectbox("Key to revoke", active, key="gw_revoke_choice")
        if st.button("Revoke", key="gw_revoke", icon=":material/key_off:"):
            apikeys.revoke_key(ws, gone)
            _flash("gw_keys", f"Revoked '{gone}': gateways refuse it within a second.")
    _show_flash("gw_keys")


def webhooks_panel(ws: Workspace) -> None:
    with st.form("gw_webhook_form"):
        c = st.columns([1, 2, 1])
        name = c[0].text_input("Name", key="gw_webhook_name")
        url = c[1].text_input("URL (Slack incoming webhooks work as they are)", key="gw_webhook_url",
                              type="password")
        events = c[2].text_input("Events", value="*", key="gw_webhook_events",
                                 help="* for all, or kinds / prefixes: budget., rollout.")
        if st.form_submit_button("Add webhook", icon=":material/add_link:"):
            try:
                made = webhooks.add_webhook(ws, name, url, events)
            except InputError as err:
                st.error(str(err))
            else:
                _flash("gw_webhooks", f"Added webhook '{made['name']}' ({made['url']}).")
    _show_flash("gw_webhooks")
    hooks = webhooks.list_webhooks(ws)
    if hooks.empty:
        st.caption("No webhook: budget alerts are only shown here and in the gateway's log.")
        return
    st.dataframe(hooks, hide_index=True, key="gw_webhooks_table")
    c = st.columns(2)
    chosen = c[0].selectbox("Webhook", hooks["name"].tolist(), key="gw_webhook_choice")
    if c[1].button("Send a test message", key="gw_webhook_test", icon=":material/send:"):
        sent = webhooks.ping_webhook(ws, chosen)
        last = sent.attempts[-1]
        (st.success if last.ok else st.error)(
            f"Test message {'delivered' if last.ok else 'not delivered'} after {len(sent.attempts)} "
            f"attempt(s): {f'HTTP {last.status_code}' if last.status_code else last.error}")
    if c[1].button("Remove", key="gw_webhook_remove", icon=":material/link_off:"):
        webhooks.remove_webhook(ws, chosen)
        _flash("gw_webhooks", f"Removed webhook '{chosen}'.")
    st.caption("Deliveries (every attempt, newest first)")
    st.dataframe(webhooks.deliveries(ws, 50).drop(columns=["event_id"]), hide_index=True,
                 key="gw_deliveries_table")

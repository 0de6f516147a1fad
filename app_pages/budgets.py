"""Budgets: set them, see the alert levels, the month-end forecast and the throttling ladder.

Widgets -> ``core.spend.budgets`` / ``core.spend.throttle`` -> tables and plotly figures.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.errors import InputError
from core.routing.policies import policy_from_dict
from core.spend.budgets import (
    PERIODS,
    budget_status,
    daily_spend,
    delete_budget,
    forecast_month_end,
    get_timezone,
    non_urgent_tasks,
    set_budget,
    set_task_urgency,
    set_timezone,
)
from core.spend.clock import timezone_names
from core.spend.queries import SpendFilter, filter_options, totals
from core.spend.reports import money, signed_money
from core.spend.throttle import throttle_ladder
from ui.policy_widgets import policy_picker
from ui.spend_widgets import demo_panel, spend_metric
from ui.state import evalset_picker, workspace
from ui.tables import money_column

st.title("Budgets")
ws = workspace()
demo = demo_panel(ws, "budget")  # the forecast below shows the demo; budgets never count it
opts = filter_options(ws)

workspace_tz = get_timezone(ws)
zones = timezone_names()
st.subheader("Set a budget")
with st.form("budget_form", border=True):
    c1, c2, c3, c4 = st.columns(4)
    period = c1.selectbox("Period", PERIODS, key="budget_period")
    task_choice = c2.selectbox("Scope", ["Overall"] + opts["tasks"], key="budget_task")
    amount = c3.number_input("Amount (USD)", min_value=0.0, value=100.0, step=10.0, key="budget_amount")
    own_tz = c4.selectbox("Days counted in", [None] + zones, key="budget_timezone",
                          format_func=lambda z: f"Workspace timezone ({workspace_tz})" if z is None else z,
                          help="The timezone whose midnight starts a budget's day, week and month.")
    if st.form_submit_button("Save budget", icon=":material/save:"):
        try:
            set_budget(ws, period, amount, None if task_choice == "Overall" else task_choice,
                       timezone=own_tz)
        except InputError as err:
            st.error(str(err))
        else:
            scope = "overall" if task_choice == "Overall" else f"task {task_choice}"
            if own_tz:
                scope += f", days in {own_tz}"
            # Rerun so the sidebar banner reflects the new budget; the confirmation rides along.
            st.session_state["budget_saved"] = f"Saved: {period} budget of {money(amount)} ({scope})."
            st.rerun()
if saved := st.session_state.pop("budget_saved", None):
    st.success(saved)
with st.expander(f"Workspace timezone: {workspace_tz}"):
    st.caption("A product manager's today is not always UTC's: budgets count days from midnight in "
               "this timezone, unless a budget names its own.")
    chosen_tz = st.selectbox("Timezone", zones, index=zones.index(workspace_tz) if workspace_tz in zones else 0,
                             key="workspace_timezone")
    if st.button("Save timezone", key="workspace_timezone_save", icon=":material/schedule:"):
        set_timezone(ws, chosen_tz)
        st.session_state["budget_saved"] = f"Saved: budget days now start at midnight in {chosen_tz}."
        st.rerun()

status = budget_status(ws)
st.subheader("This period")
st.caption("Budgets count billable spend: every real dollar (production, shadow and playground "
           "calls). Simulations (replays on eval sets, e.g. a shadow comparison) are never billed.")
if status.empty:
    st.info("No budget yet: set one above. Alerts show at 70%, 90% and 100% of a budget on every page.")
else:
    view = status.assign(task=status["task"].fillna("(overall)"),
                         level=status["level"].map(lambda v: "" if pd.isna(v) else f"{int(v)}%"))
    st.dataframe(view, hide_index=True, key="budget_status_table",
                 column_config={"ratio": st.column_config.ProgressColumn("used", format="percent",
                                                                         min_value=0.0, max_value=1.0),
                                "amount_usd": money_column("budget", 2),
                                "spent_usd": money_column("spent", 2),
                                "unknown_cost_rows": "rows of unknown cost (not in spent)",
                                "timezone": "days counted in"})
    with st.expander("Remove a budget"):
        labels = [f"{r.period} · {r.task}" for r in view.itertuples()]
        gone = st.selectbox("Budget", labels, key="budget_delete_choice")
        if st.button("Remove", key="budget_delete", icon=":material/delete:"):
            row = view.iloc[labels.index(gone)]
            delete_budget(ws, row["period"], None if row["task"] == "(overall)" else row["task"])
            st.rerun()

st.subheader("Month-end forecast" + (" of the synthetic demo ledger" if demo else ""))
fc = forecast_month_end(ws, demo=demo)
simulated = totals(ws, SpendFilter(date_from=fc.month_start, date_to=fc.today, scope="simulation",
                                   demo=demo))
f = st.columns(5)
spend_metric(f[0], "Month to date" + (" (demo)" if demo else ""), fc.month_to_date, fc.unknown_cost_rows,
             help="Billable spend this month.")
f[1].metric("Forecast at month end", money(fc.forecast),
            help=f"{fc.method}; trailing window {fc.window_days} day(s), {fc.remaining_days} day(s) left.")
f[2].metric("95% interval", "n/a" if fc.low is None else f"{money(fc.low)} – {money(fc.high)}")
# Over budget is a rise (red), under budget a fall (green): the sign leads the delta.
f[3].metric("Monthly budget", money(fc.budget_usd) if fc.budget_usd else "none",
            delta=None if fc.over_budget_by is None else
            f"{signed_money(fc.over_budget_by)} {'over' if fc.over_budget_by > 0 else 'under'} at month end",
            delta_color="inverse")
spend_metric(f[4], "Simulated (never billed)", simulated["cost_usd"], simulated["unknown_cost_rows"],
             help="Spend computed from eval sets this month (replays such as shadow comparisons): "
                  "recorded apart, not counted by budgets.")
st.caption(f"Days and the month counted in {fc.timezone} (today there: {fc.today}).")
daily = daily_spend(ws, fc.month_start, fc.today, SpendFilter(scope="billable", demo=demo),
                    timezone=fc.timezone)
if daily["cost_usd"].any() or daily["unknown_cost_rows"].any():
    cum = daily.set_index("day")["cost_usd"].fillna(0.0).cumsum()  # known spend
    fig = go.Figure(go.Scatter(x=cum.index, y=cum.values, mode="lines+markers", name="spent"))
    end = pd.Timestamp(fc.today) + pd.Timedelta(days=fc.remaining_days)
    fig.add_scatter(x=[pd.Timestamp(fc.today), end], y=[fc.month_to_date, fc.forecast],
                    mode="lines", line=dict(dash="dash"), name="forecast")
    if fc.budget_usd:
        fig.add_hline(y=fc.budget_usd, line_dash="dot", annotation_text="monthly budget")
    fig.update_layout(height=320, yaxis_title="USD (cumulative)", margin=dict(l=40, r=10, t=30, b=30))
    st.plotly_chart(fig, key="budget_forecast_chart")

st.subheader("Throttling ladder")
st.caption("What each level would have saved over the period, and what it costs in quality on "
           "an eval set: 1 disables experiments, 2 routes to a cheaper policy, 3 pauses non-urgent work.")
paused = st.multiselect("Non-urgent tasks (paused at level 3)", sorted(set(opts["tasks"]) | set(non_urgent_tasks(ws))),
                        default=non_urgent_tasks(ws), key="budget_non_urgent")
if st.button("Save task urgency", key="budget_save_urgency"):
    for task in set(opts["tasks"]) | set(non_urgent_tasks(ws)):
        set_task_urgency(ws, task, task not in paused)
    st.rerun()
evalset = evalset_picker("Eval set", key="budget_ladder_evalset", allow_upload=False)
if evalset is not None:
    c1, c2 = st.columns(2)
    with c1:
        current = policy_picker(evalset, "budget_current", "Current policy", default="best")
    with c2:
        cheaper = policy_picker(evalset, "budget_cheaper", "Cheaper policy (level 2)", default="cheapest")
    ladder_period = st.radio("Savings over", PERIODS, horizontal=True, key="budget_ladder_period")
    if current is not None and cheaper is not None:
        try:
            ladder = throttle_ladder(ws, evalset, policy_from_dict(current),
                                     policy_from_dict(cheaper), period=ladder_period)
        except InputError as err:
            st.error(str(err))
        else:
            if ladder.triggered:
                st.warning(f"Today's spend calls for **level {ladder.triggered}**: "
                           f"{ladder.levels[ladder.triggered - 1].action.lower()}.")
            else:
                st.success("No budget alert: no throttling needed today.")
            table = pd.DataFrame([{
                "level": lvl.level, "action": lvl.action, "saves": lvl.saved_usd,
                "saves (cumulative)": lvl.cumulative_saved_usd, "quality": lvl.quality,
                "quality cost (points)": 100 * lvl.quality_cost, "how": lvl.detail,
                "triggered": "◀ today" if lvl.level == ladder.triggered else ""} for lvl in ladder.levels])
            st.dataframe(table, hide_index=True, key="budget_ladder_table",
                         column_config={"saves": money_column(decimals=4),
                                        "saves (cumulative)": money_column(decimals=4),
                                        "quality": st.column_config.NumberColumn(format="%.3f"),
                                        "quality cost (points)": st.column_config.NumberColumn(format="%.1f")})
            unit = {"daily": "day", "weekly": "week", "monthly": "month"}[ladder_period]
            st.caption(f"Spend this {unit} "
                       f"(since {ladder.since}): {money(ladder.spend_usd)}. Current policy: quality "
                       f"{ladder.current_quality:.3f} at {money(ladder.current_cost_per_item)}/item; "
                       f"cheaper: {ladder.cheaper_quality:.3f} at {money(ladder.cheaper_cost_per_item)}/item.")

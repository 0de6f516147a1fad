"""Spend: where the money goes by day, task, model and provider, from the DuckDB ledger.

Widgets -> ``core.spend.queries`` queries (bulk SQL over the ledger) -> plotly figures; imports,
report downloads and projections below.
"""
from __future__ import annotations

import streamlit as st

from core.errors import InputError
from core.spend.charts import share_bar, stacked_by_day
from core.spend.queries import spend_page_data
from core.spend.reports import money, unknown_note
from core.spend.throttle import project_costs
from ui.deltas import signed
from ui.policy_widgets import policy_picker
from ui.spend_widgets import (
    demo_panel,
    filter_widgets,
    import_widget,
    report_downloads,
    spend_metric,
    spend_table,
)
from ui.state import evalset_picker, workspace

st.title("Spend")
ws = workspace()
demo = demo_panel(ws, "spend")  # a first visit opens on the synthetic demo ledger
import_widget(ws)

try:
    flt = filter_widgets(ws, demo=demo)
except InputError as err:
    st.error(str(err))
    st.stop()
if flt is None:
    st.info("The ledger is empty: import a usage export above, or run a live eval (every call "
            "it makes is recorded here).")
    st.stop()

try:
    data = spend_page_data(ws, flt)
except InputError as err:
    st.error(str(err))
    st.stop()

t = data["totals"]
cache = data["cache"]
hits, requests = int(cache["cache_hits"].sum()), int(cache["requests"].fillna(0).sum())
m = st.columns(5)
spend_metric(m[0], "Spend", t["cost_usd"], t["unknown_cost_rows"])
m[1].metric("Requests", f"{t['requests']:,}")
m[2].metric("Per 1,000 requests", money(t["cost_per_1k_requests"]),
            help="Over the rows that know both their cost and their request count.")
m[3].metric("Cache hit rate", f"{hits / requests:.1%}" if requests else "n/a")
m[4].metric("Cache savings", money(float(cache["savings_usd"].sum())),
            help="What the cache hits would have cost at each model's average cost per request "
                 "over the calls that missed the cache.")
split = [(label, data[key]) for label, key in (
    ("Billable (every real dollar)", "billable_totals"), ("Shadow (kept apart)", "shadow_totals"),
    ("Simulated (never billed)", "simulation_totals")) if data[key] is not None]
tiers = data["by_service_tier"].set_index("service_tier")
if "batch" in tiers.index:
    split.append(("Batch (at the batch price)", tiers.loc["batch"]))
for col, (label, tot) in zip(st.columns(max(len(split), 1)), split):
    spend_metric(col, label, tot["cost_usd"], int(tot["unknown_cost_rows"]))
if split:
    st.caption("Budgets count billable spend: production, shadow and playground calls. Simulations "
               "(replays on eval sets, e.g. a shadow comparison) are recorded apart and never billed.")
if t["unknown_cost_rows"]:
    st.warning(unknown_note(t["unknown_cost_rows"]) + " The import report says how to price them.")
if t["rows"] == 0:
    st.info("No spend matches these filters.")

tab_day, tab_model, tab_task, tab_provider, tab_tier, tab_cache, tab_top = st.tabs(
    ["By day", "By model", "By task", "By provider", "By service tier", "Cache", "Most expensive calls"])
with tab_day:
    dim = st.radio("Stack by", ["model", "task", "provider"], horizontal=True, key="spend_stack_by")
    st.plotly_chart(stacked_by_day(data[f"by_day_{dim}"], dim), key="spend_by_day_chart")
with tab_model:
    share = data["traffic_share"]
    c1, c2 = st.columns(2)
    c1.plotly_chart(share_bar(share, "model", "request_share", "Traffic share (requests)"),
                    key="spend_share_chart")
    c2.plotly_chart(share_bar(share, "model", "cost_share", "Share of spend"), key="spend_cost_share")
    spend_table(share, "spend_share_table",
                {"request_share": st.column_config.NumberColumn(format="percent"),
                 "cost_share": st.column_config.NumberColumn("share of known spend", format="percent")})
with tab_task:
    by_task = data["by_task"]
    st.plotly_chart(share_bar(by_task, "task", "cost_per_1k_requests",
                              "Cost per 1,000 requests by task", fmt="$,.4f"), key="spend_task_chart")
    spend_table(by_task[["task", "cost_usd", "unknown_cost_rows", "requests", "cost_per_request",
                         "cost_per_1k_requests", "input_tokens", "output_tokens"]], "spend_task_table")
with tab_provider:
    st.plotly_chart(stacked_by_day(data["by_day_provider"], "provider"), key="spend_provider_chart")
    spend_table(data["by_provider"], "spend_provider_table")
with tab_tier:
    spend_table(data["by_service_tier"], "spend_tier_table")
    st.caption("Batch usage is priced at the batch rate (50% of standard for OpenAI and Anthropic); "
               "usage exports are priced at the tier and context window they state.")
with tab_cache:
    st.dataframe(cache[["model", "requests", "cache_hits", "hit_rate", "avg_cost_per_miss",
                        "savings_usd", "cached_token_share"]], hide_index=True, key="spend_cache_table",
                 column_config={"hit_rate": st.column_config.NumberColumn(format="percent"),
                                "cached_token_share": st.column_config.NumberColumn(format="percent")})
    st.caption("Cache hits are calls answered from a cache (e.g. LiteLLM's); cached-token share is "
               "the part of input tokens a provider read from its prompt cache.")
with tab_top:
    spend_table(data["top_calls"], "spend_top_table")

st.subheader("Cost report")
report_downloads(ws, flt.date_from, flt.date_to)

st.subheader("Projections")
st.caption("At a volume you type per task: what the current policy costs per day, month and year "
           "against sending everything to the best single model (the all-frontier baseline).")
evalset = evalset_picker("Eval set for costs per item", key="spend_projection_evalset", allow_upload=False)
if evalset is not None:
    policy = policy_picker(evalset, "spend_projection_policy", "Current policy", default="cascade")
    tasks = sorted(set(map(str, evalset.tasks)))
    cols = st.columns(min(len(tasks), 4))
    volume = {task: cols[i % len(cols)].number_input(f"Requests/day: {task}", min_value=0.0,
                                                     value=1000.0, step=100.0,
                                                     key=f"spend_volume_{task}")
              for i, task in enumerate(tasks)}
    if policy is not None:
        from core.routing.policies import SingleModel, policy_from_dict

        baseline = SingleModel(evalset.quality_order[0])
        try:
            proj = project_costs(evalset, policy_from_dict(policy), baseline, volume)
        except InputError as err:
            st.error(str(err))
        else:
            total = proj.iloc[-1]
            p = st.columns(4)
            p[0].metric("Current policy, per month", money(total["current_monthly"]))
            p[1].metric(f"All {baseline.model}, per month", money(total["baseline_monthly"]))
            p[2].metric("Savings per year", money(total["savings_annual"]))
            p[3].metric("Quality, current policy", f"{total['current_quality']:.3f}",
                        **signed(total["current_quality"] - total["baseline_quality"], "{:.3f}",
                                 baseline.model, same=f"same quality as {baseline.model}"))
            st.caption("Simulated from the eval set's costs and scores (in-sample, not billed "
                       "spend); quality at the volume's task mix.")
            st.dataframe(proj, hide_index=True, key="spend_projection_table")

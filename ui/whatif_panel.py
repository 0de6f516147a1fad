"""Savings beyond routing on the Cascade tuner: the chosen point with prompt caching, batch APIs, both.

One self-contained block (:func:`whatif_panel`): toggles, the tasks that tolerate delay (stored in
the workspace), the plan's spend at the page's volume, the frontier with the "route + cache",
"route + batch" and "route + cache + batch" points, per-task savings and latency cost, and the
ledger's real prompt-cache savings beside the what-if.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.errors import InputError
from core.pricing.batch import BATCH_RULES
from core.routing.frontier import FrontierResult
from core.routing.projections import project_spend
from core.routing.task_settings import delay_tolerant_tasks, set_delay_tolerant
from core.routing.whatif import VARIANT_LABELS, savings_plan, variant_for
from core.spend.cache_savings import prompt_cache_savings
from core.spend.queries import SpendFilter
from core.spend.reports import money
from core.workspace import default_path
from ui.deltas import signed
from ui.frontier_figures import frontier_figure
from ui.state import catalog, workspace

MARKERS = {"cache": ("#9467bd", "circle"), "batch": ("#8c564b", "triangle-up"),
           "all": ("#17becf", "star-diamond")}


def _save_flags(key: str, before: frozenset[str]) -> None:
    chosen = set(st.session_state.get(key) or [])
    for task in chosen ^ set(before):
        set_delay_tolerant(workspace(), task, task in chosen)


def _figure(fr: FrontierResult, point: dict, plan, chosen: str) -> go.Figure:
    fig = frontier_figure(fr.points, fr.singles, fr.oracle, point, fr.threshold_columns,
                          current_label="Current point (route)")
    for variant, (color, symbol) in MARKERS.items():
        cost = plan.costs[variant]
        if cost != cost:
            continue
        label = VARIANT_LABELS[variant] + (" (your plan)" if variant == chosen else "")
        fig.add_trace(go.Scatter(
            x=[cost], y=[plan.quality], mode="markers", name=label,
            marker=dict(size=16 if variant == chosen else 11, symbol=symbol, color=color,
                        line=dict(width=2, color="white")),
            hovertemplate=f"{label} (what-if): $%{{x:.6f}}/item · quality %{{y:.3f}}<extra></extra>"))
        fig.add_annotation(x=_log10(cost), y=plan.quality, ax=_log10(point["cost_per_item"]),
                           ay=plan.quality, xref="x", yref="y", axref="x", ayref="y", text="",
                           showarrow=True, arrowhead=2, arrowcolor=color, opacity=0.6)
    return fig


def _log10(x: float) -> float:
    import math

    return math.log10(x) if x > 0 else 0.0


@st.cache_data(ttl=30, show_spinner=False)
def _ledger_savings(workspace_key: str, models: tuple[str, ...]) -> pd.DataFrame:
    """Read at most every 30 s: the panel reruns with every slider move (the tuner's fragment),
    and each read of the store costs ~100 ms."""
    frame = prompt_cache_savings(workspace(), catalog(), SpendFilter())
    return frame[frame["model"].isin([str(m).split(":", 1)[-1] for m in models] + list(models))]


MEMO = "_whatif_plans"  # session state: the last few plans, by point, volume, tasks and catalog


def _plan(key, evalset, point: dict, volume: float, tasks: frozenset[str]):
    """``savings_plan`` for the point, computed once per (point key, volume, tasks, catalog): a
    slider move back to a point seen costs nothing."""
    memo = st.session_state.setdefault(MEMO, {})
    cat = catalog()
    full = (key, float(volume), tasks)
    hit = memo.get(full)
    if hit is not None and hit[0] is cat:  # the same price catalog object: no price edit since
        return hit[1]
    plan = savings_plan(evalset, point["outcome"], cat, volume, tasks)
    memo[full] = (cat, plan)
    while len(memo) > 16:
        memo.pop(next(iter(memo)))
    return plan


def whatif_panel(evalset, es_id: int, fr: FrontierResult, point: dict, volume: float,
                 key=None) -> None:
    """The what-if block for the current cascade point at ``volume`` requests per day; ``key``
    (hashable: the frontier and the thresholds) lets a point seen before reuse its plan."""
    with st.expander("Savings beyond routing: prompt caching and batch APIs (what-if)", expanded=True):
        c1, c2 = st.columns(2)
        cache = c1.toggle("Cache the shared prompt prefix", key="whatif_cache",
                          help="Each task's prompt prefix read from the provider's cache at the hit "
                               "rate your volume gives (Poisson arrivals: P(hit) = 1 - exp(-rate x TTL)).")
        batch = c2.toggle("Send delay-tolerant tasks to batch APIs", key="whatif_batch",
                          help="Their calls at the batch price, answered within 24 hours.")
        tasks = sorted({str(t) for t in evalset.tasks})
        flag_key = f"whatif_tasks_{es_id}"
        if flag_key not in st.session_state:  # the store is read once per session and eval set
            st.session_state[flag_key] = [t for t in tasks if t in delay_tolerant_tasks(workspace())]
        stored = set(st.session_state[flag_key])
        chosen_tasks = st.multiselect(
            "Tasks that tolerate delay (may wait up to 24 h; saved in the workspace)", tasks,
            key=flag_key, on_change=_save_flags, args=(flag_key, frozenset(t for t in tasks if t in stored)))
        try:
            tasks = frozenset(chosen_tasks)
            plan = (savings_plan(evalset, point["outcome"], catalog(), volume, tasks) if key is None
                    else _plan(key, evalset, point, volume, tasks))
        except InputError as err:
            st.error(str(err))
            return
        variant = variant_for(cache, batch)
        if batch and not chosen_tasks:
            st.info("No task is flagged as tolerating delay: flag some above to batch them.")
        cols = st.columns(4)
        cols[0].metric("Plan cost per item", f"${plan.costs[variant]:.6f}",
                       **signed(plan.costs[variant] - plan.costs["route"], "${:.6f}", "route alone",
                                lower_is_better=True, same="same as the route alone"))
        spend, base = project_spend(plan.costs[variant], volume), project_spend(plan.costs["route"], volume)
        for col, (label, key) in zip(cols[1:], [("Plan per day", "day"), ("Plan per month", "month"),
                                                ("Plan per year", "year")]):
            col.metric(label, f"${spend[key]:,.2f}",
                       **signed(spend[key] - base[key], money, "route alone", lower_is_better=True,
                                same="same as the route alone"))
        st.caption(f"Plan: **{VARIANT_LABELS[variant]}**. What-if, modelled in-sample on this eval set "
                   "with no interval (a model of arrivals and prices, not a measurement); never billed "
                   f"spend. Quality is the route's ({plan.quality:.3f}): the same calls, priced "
                   f"differently. Prices: {catalog().snapshot_label()}."
                   + (f" {plan.not_modelled:,} calls without token counts or a price keep their "
                      "recorded cost." if plan.not_modelled else ""))
        if variant == "route":  # nothing switched on: no second chart to redraw on every move
            st.caption("Switch on caching or batch above to see the plan beside the route on the "
                       "frontier, task by task.")
            return
        st.plotly_chart(_figure(fr, point, plan, variant), key="whatif_frontier_chart")
        table = plan.tasks.assign(
            cache_saving_per_item=plan.tasks["cost_route"] - plan.tasks["cost_cache"],
            batch_saving_per_item=plan.tasks["cost_route"] - plan.tasks["cost_batch"])
        st.dataframe(
            table[["task", "requests_per_day", "delay_tolerant", "cost_route", "cache_saving_per_item",
                   "batch_saving_per_item", "cost_all", "p95_ms", "latency_with_batch"]],
            hide_index=True, width="stretch", key="whatif_tasks_table",
            column_config={
                "requests_per_day": st.column_config.NumberColumn("requests / day", format="%.0f"),
                "delay_tolerant": st.column_config.CheckboxColumn("tolerates delay"),
                "cost_route": st.column_config.NumberColumn("route $ / item", format="$%.6f"),
                "cache_saving_per_item": st.column_config.NumberColumn("cache saves $ / item", format="$%.6f"),
                "batch_saving_per_item": st.column_config.NumberColumn("batch saves $ / item", format="$%.6f"),
                "cost_all": st.column_config.NumberColumn("route + cache + batch $ / item", format="$%.6f"),
                "p95_ms": st.column_config.NumberColumn("p95 latency now (ms)", format="%.0f"),
                "latency_with_batch": st.column_config.TextColumn("latency with batch"),
            })
        with st.expander("Per task and model: prefix, hit rate, rules and their sources"):
            if len(plan.detail):
                st.dataframe(plan.detail, hide_index=True, width="stretch", key="whatif_detail",
                             column_config={
                                 "calls_per_day": st.column_config.NumberColumn(format="%.0f"),
                                 "prefix_tokens": st.column_config.NumberColumn(format="%.0f"),
                                 "hit_rate": st.column_config.NumberColumn(format="percent"),
                                 "cache_saving_per_day": st.column_config.NumberColumn(format="$%.2f"),
                                 "batch_saving_per_day": st.column_config.NumberColumn(format="$%.2f")})
            st.caption("Prefix **recorded**: the median cached input tokens the eval set's calls report "
                       "(exact). **estimate**: the text every input of the task starts with plus the "
                       "prompt tokens beyond the input (the template), counted offline at 4 characters "
                       "per token. Batch rules: " + " · ".join(BATCH_RULES.values()))
        real = _ledger_savings(default_path(), tuple(evalset.models))
        if len(real):
            st.markdown("**Real prompt-cache savings in the ledger** (billed production calls, all time)")
            st.dataframe(real[["provider", "model", "requests", "cached_share", "read_saving_usd",
                               "write_premium_usd", "net_saving_usd"]], hide_index=True, width="stretch",
                         key="whatif_ledger_savings",
                         column_config={"cached_share": st.column_config.NumberColumn("cached input share",
                                                                                      format="percent"),
                                        "read_saving_usd": st.column_config.NumberColumn(format="$%.4f"),
                                        "write_premium_usd": st.column_config.NumberColumn(format="$%.4f"),
                                        "net_saving_usd": st.column_config.NumberColumn(format="$%.4f")})
        else:
            st.caption("The ledger has no cached-token usage for these models yet: real savings show "
                       "here once live runs or the gateway record provider cache reads.")

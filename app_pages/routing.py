"""Routing: a task routing table (each entry a model, or a cascade at its own threshold) or value
tiers, its metrics, its place on the frontier, and what each task costs at your traffic mix."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from core.errors import InputError
from core.routing.frontier import default_cascade, single_points
from core.routing.policies import HybridRouter, Oracle, TaskRouter, ValueTiers
from core.routing.policies.hybrid import table_from_rows
from core.routing.policies.task_router import best_table
from core.routing.projections import cost_by_task, project_by_task
from ui.deltas import signed
from ui.frontier_figures import frontier_figure, share_figure
from ui.policy_widgets import save_policy_panel
from ui.routing_state import frontier_for
from ui.state import evalset_picker, scored_evalset
from ui.tables import money_column

st.title("Routing")
st.caption("Send each request to one model by its task, or by what the item is worth.")

evalset = evalset_picker()
if evalset is None:
    st.stop()
if evalset.format == "inputs" or evalset.n_models < 1 or evalset.score.size == 0:
    st.info("This eval set has no model results yet: run it on the Live run page first.")
    st.stop()
es_id = st.session_state["evalset_id"]
models = list(evalset.models)
tasks = pd.Series(evalset.tasks).astype(str)
task_counts = tasks.value_counts()
singles = single_points(evalset)

mode = st.radio("Rule", ["Task routing table", "Value tiers"], horizontal=True, key="routing_mode")

try:
    if mode == "Task routing table":
        start, start_default = best_table(evalset)
        st.caption("Starting point: per task, the cheapest model within one point of that task's "
                   "best quality (in-sample). Edit any row.")
        try:
            cascade_signal = default_cascade(evalset)[1]
        except InputError:  # one model: nothing to cascade to
            cascade_signal = None
        gate = cascade_signal.label() if cascade_signal is not None else "its signal"
        st.caption(f"Or cascade a task: name a model to **cascade to** and a **threshold**; the "
                   f"row's model answers where {gate} reaches the threshold, else the cascade-to "
                   "model does.")
        table = pd.DataFrame({"task": task_counts.index, "items": task_counts.to_numpy(),
                              "model": [start.get(t, start_default) for t in task_counts.index],
                              "cascade_to": pd.Series([None] * len(task_counts), dtype=object),
                              "threshold": pd.Series([None] * len(task_counts), dtype=float)})
        edited = st.data_editor(
            table, key=f"routing_table_{es_id}", hide_index=True, width="stretch",
            disabled=["task", "items"],
            column_config={"model": st.column_config.SelectboxColumn("model", options=models,
                                                                     required=True),
                           "cascade_to": st.column_config.SelectboxColumn("cascade to", options=models),
                           "threshold": st.column_config.NumberColumn("threshold", min_value=0.0,
                                                                      max_value=1.01, step=0.01)})
        default = st.selectbox("Default model (tasks not in the table)", models,
                               index=models.index(start_default), key=f"routing_default_{es_id}")
        entries = table_from_rows(edited[["task", "model", "cascade_to", "threshold"]].itertuples(index=False))
        policy = HybridRouter(entries, default, cascade_signal or "confidence") \
            if any(isinstance(e, dict) for e in entries.values()) else TaskRouter(entries, default)
    else:
        numeric = [c for c in evalset.metadata_columns
                   if pd.to_numeric(evalset.items[c], errors="coerce").notna().mean() > 0.5]
        if not numeric:
            st.info("Value tiers need a numeric value per item (e.g. a value_usd column); this "
                    "eval set has none.")
            st.stop()
        column = st.selectbox("Item value column", numeric,
                              index=numeric.index("value_usd") if "value_usd" in numeric else 0,
                              key=f"routing_value_col_{es_id}")
        values = pd.to_numeric(evalset.items[column], errors="coerce")
        by_cost = singles.sort_values("cost_per_item").model.tolist()
        cheap, dear = by_cost[0], singles.sort_values("quality").model.iloc[-1]
        start = pd.DataFrame({"min_value": [0.0, float(values.quantile(0.8))], "model": [cheap, dear]})
        tiers = st.data_editor(
            start, key=f"routing_tiers_{es_id}", num_rows="dynamic", hide_index=True,
            width="stretch",
            column_config={"min_value": st.column_config.NumberColumn(f"min {column}", required=True),
                           "model": st.column_config.SelectboxColumn("model", options=models,
                                                                     required=True)})
        tiers = tiers.dropna()
        st.caption(f"An item goes to the highest tier whose minimum its {column} reaches; items "
                   "below every tier or without a value go to the lowest tier.")
        policy = ValueTiers(list(zip(tiers["min_value"], tiers["model"])), value_column=column)
    outcome = policy.evaluate(evalset)
except InputError as err:
    st.error(str(err))
    st.stop()

# -- metrics -------------------------------------------------------------------------------------
best = singles.sort_values(["quality", "cost_per_item"], ascending=[False, True]).iloc[0]
pct = outcome.latency_percentiles()
m1, m2, m3, m4 = st.columns(4)
m1.metric("Quality", f"{outcome.quality:.3f}",
          **signed(outcome.quality - best.quality, "{:.3f}", best.model, same=f"same quality as {best.model}"))
m2.metric("Cost per item", f"${outcome.cost_per_item:.6f}",
          **(signed((outcome.cost_per_item - best.cost_per_item) / best.cost_per_item, "{:.1%}", best.model,
                    lower_is_better=True, same=f"same cost as {best.model}") if best.cost_per_item else {}))
m3.metric("p50 latency", f"{pct[50]:,.0f} ms" if pct[50] == pct[50] else "n/a")
m4.metric("p95 latency", f"{pct[95]:,.0f} ms" if pct[95] == pct[95] else "n/a")

left, right = st.columns([3, 2])
with left:
    points = None
    oracle = Oracle().evaluate(evalset)
    oracle_point = {"quality": oracle.quality, "cost_per_item": oracle.cost_per_item}
    try:
        cascade_models, cascade_signal = default_cascade(evalset)
        fr = frontier_for(es_id, cascade_models, cascade_signal.to_dict())
        points = fr.points.assign(**{c: fr.points[c] for c in fr.threshold_columns})
        st.caption(f"Grey: every operating point of the cascade {' > '.join(cascade_models)} "
                   f"({cascade_signal.label()}), for comparison.")
    except InputError:
        fr = None
    st.plotly_chart(frontier_figure(points, singles, oracle_point,
                                    {"quality": outcome.quality, "cost_per_item": outcome.cost_per_item},
                                    fr.threshold_columns if fr is not None else (),
                                    current_label="This routing"), key="routing_frontier_chart")
    judge_note = scored_evalset(es_id).caption()
    if judge_note:  # a frontier on judged scores says how far the judge can be trusted
        st.caption(f":material/gavel: {judge_note}")
with right:
    st.plotly_chart(share_figure({m: s for m, s in outcome.traffic_share().items()}),
                    key="routing_share_chart")

# -- per-task cost at a traffic mix ---------------------------------------------------------------
st.subheader("Cost per task at your traffic mix")
mix = pd.DataFrame({"task": task_counts.index, "requests_per_day": (task_counts.to_numpy() * 10).astype(float)})
mix = st.data_editor(mix, key=f"routing_mix_{es_id}", hide_index=True, disabled=["task"],
                     width="stretch",
                     column_config={"requests_per_day": st.column_config.NumberColumn(
                         "requests per day", min_value=0.0, step=100.0)})
try:
    breakdown = project_by_task(cost_by_task(outcome, evalset.tasks),
                                dict(zip(mix["task"], mix["requests_per_day"].fillna(0))))
except InputError as err:
    st.error(str(err))
else:
    st.dataframe(breakdown, hide_index=True, width="stretch", column_config={
        "cost_per_item": money_column("cost/item", 6),
        "day": money_column("$/day", 2),
        "month": money_column("$/month", 2),
        "year": money_column("$/year", 2)}, key="routing_breakdown")
    per_task = breakdown[breakdown["task"] != "total"]
    st.plotly_chart(px.bar(per_task, x="task", y="month", labels={"month": "USD per month"}),
                    key="routing_task_chart")

# -- save / download ------------------------------------------------------------------------------
meta = {"evalset": evalset.name, "quality": outcome.quality, "cost_per_item": outcome.cost_per_item,
        "items": evalset.n_items, "measured": "in-sample on this eval set"}
save_policy_panel(policy, meta, policy.kind.replace("_", " "), key="routing",
                  name_key=f"routing_policy_name_{policy.kind}")

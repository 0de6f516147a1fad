"""Cascade tuner: move a threshold, watch quality, cost and latency move on the frontier."""
from __future__ import annotations

import json

import streamlit as st

from core.errors import InputError
from core.routing.calibration import calibration_audit, reliability
from core.routing.frontier import default_cascade, default_voters, point_summary, suggested_thresholds
from core.routing.optimize.search import recommend
from core.routing.policies import Cascade
from core.routing.policies.mix import main_part
from core.routing.projections import project_spend
from core.routing.sla import sla_search
from core.spend.reports import money
from ui.deltas import signed
from ui.frontier_figures import reliability_figure, share_bars
from ui.goal_form import goal_form
from ui.policy_widgets import save_policy_panel
from ui.routing_state import (
    SIGNAL_LABELS,
    frontier_chart,
    frontier_of,
    frontier_ref,
    interval_at,
)
from ui.state import evalset_picker, scored_evalset
from ui.whatif_panel import whatif_panel

MAX_THRESHOLD = 1.01  # above any signal (0..1): the step never keeps an answer


def _fmt(value: float, spec: str) -> str:
    return "n/a" if value != value else format(value, spec)

st.title("Cascade tuner")
st.caption("Cheap model first; escalate to the next when its signal is below the threshold. "
           "Every escalated item pays for, and waits for, every model it tried.")

evalset = evalset_picker()
if evalset is None:
    st.stop()
if evalset.format == "inputs" or evalset.n_models < 2:
    st.info("This eval set has no model results yet: run it on the Live run page, or pick one "
            "with at least two scored models.")
    st.stop()
es_id = st.session_state["evalset_id"]
judge_note = scored_evalset(es_id).caption()  # every figure on judged scores says how far to trust them

# -- configuration -------------------------------------------------------------------------------
try:
    default_models, default_signal = default_cascade(evalset)
except InputError as err:
    st.error(str(err))
    st.stop()
c1, c2 = st.columns([3, 2])
with c1:
    models = st.multiselect(
        "Models in the order they are tried (cheapest first; the last one always answers)",
        list(evalset.models), default=default_models, key=f"cascade_models_{es_id}")
with c2:
    kinds = ["confidence", "agreement", "learned"]
    kind = st.radio("Confidence signal", kinds, format_func=SIGNAL_LABELS.get, horizontal=True,
                    index=kinds.index(default_signal.kind), key=f"cascade_signal_{es_id}")
if len(models) < 2:
    st.info("Pick at least two models: the first answers when sure, the last when nobody is.")
    st.stop()
signal_spec: dict = {"kind": kind}
if kind == "agreement":
    pool = default_voters(evalset, models)
    voters = st.multiselect(
        "Models that vote (each is called on every item and paid for; a step's answer is "
        "confirmed when the others give the same one)", list(evalset.models),
        default=[m for m in pool if m in evalset.models], key=f"cascade_voters_{es_id}")
    if len(voters) < 2:
        st.info("Agreement needs at least two voting models.")
        st.stop()
    signal_spec["models"] = voters
elif kind == "learned":
    signal_spec["fit_models"] = list(models[:-1])
    st.caption(":orange[In-sample:] the learned signal is trained on this same eval set, so the "
               "figures below are optimistic. The recommendation below reports held-out figures.")

try:
    ref = frontier_ref(es_id, models, signal_spec)  # the store is read here, not on a slider move
    fr = frontier_of(ref)
except InputError as err:
    st.error(str(err))
    st.stop()

# -- thresholds ----------------------------------------------------------------------------------
config_key = json.dumps([es_id, models, signal_spec], sort_keys=True)
slider_keys = [f"cascade_t{s}_{abs(hash(config_key))}" for s in range(len(models) - 1)]
if any(k not in st.session_state for k in slider_keys):
    for k, t in zip(slider_keys, suggested_thresholds(fr)):
        st.session_state.setdefault(k, float(min(t, MAX_THRESHOLD)))


@st.fragment
def tune() -> None:
    """Everything a threshold moves (sliders, chart, figures, SLA check, projection, policy):
    a slider move reruns only this, not the page (issue 13 item 20)."""
    thresholds = []
    slider_cols = st.columns(len(models) - 1)
    for s, (col, key) in enumerate(zip(slider_cols, slider_keys)):
        with col:
            thresholds.append(st.slider(
                f"Step {s + 1}: keep {models[s]}'s answer when its signal is at least",
                0.0, MAX_THRESHOLD, step=0.01, key=key,
                help=f"{MAX_THRESHOLD} escalates every item; 0 keeps every answer of this step."))

    point = point_summary(fr, thresholds)
    ci = interval_at(ref, tuple(thresholds))

    # -- chart and figures -------------------------------------------------------------------------
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(frontier_chart(ref, (point["cost_per_item"], point["quality"])),
                        key="cascade_frontier_chart")
        note = ("every distinct threshold" if fr.exhaustive else
                "thresholds limited to each step's quantiles (too many distinct values)")
        st.caption(f"{len(fr.points):,} operating points ({note}); "
                   f"{int(fr.points['pareto'].sum())} on the Pareto front. "
                   f"APGR {_fmt(fr.metrics['apgr'], '.3f')} · CPT(50%) {_fmt(fr.metrics['cpt50'], '.1%')} · "
                   f"CPT(80%) {_fmt(fr.metrics['cpt80'], '.1%')} of calls to {fr.metrics['strong']} · "
                   f"AIQ {_fmt(fr.metrics['aiq'], '.3f')}",
                   help="APGR and CPT as RouteLLM defines them (weak = first model, strong = last; "
                        "n/a when the strong model is not better or the target is never reached); "
                        "AIQ as RouterBench defines it.")
        if judge_note:
            st.caption(f":material/gavel: {judge_note}")
    with right:
        m1, m2 = st.columns(2)
        m1.metric("Quality", f"{point['quality']:.3f}",
                  **signed(point["quality"] - point["strong_quality"], "{:.3f}", point["strong_model"],
                           same=f"same quality as {point['strong_model']}"))
        m1.caption(f"95% bootstrap interval {ci['quality'][0]:.3f} – {ci['quality'][1]:.3f}")
        m2.metric("Cost per item", f"${point['cost_per_item']:.6f}",
                  **signed(-point["savings"], "{:.1%}", point["strong_model"], lower_is_better=True,
                           same=f"same cost as {point['strong_model']}"))
        m2.caption(f"95% interval ${ci['cost_per_item'][0]:.6f} – ${ci['cost_per_item'][1]:.6f}")
        m3, m4 = st.columns(2)
        m3.metric("Escalation rate", f"{point['escalation_rate']:.1%}")
        m4.metric("Savings vs all-strong", f"{point['savings']:.1%}",
                  help=f"Against sending every item to {point['strong_model']} "
                       f"(${point['strong_cost_per_item']:.6f}/item)")
        m5, m6 = st.columns(2)
        has_latency = point["p50_ms"] == point["p50_ms"]
        m5.metric("p50 latency", f"{point['p50_ms']:,.0f} ms" if has_latency else "n/a")
        m6.metric("p95 latency", f"{point['p95_ms']:,.0f} ms" if has_latency else "n/a")
        if not has_latency:
            st.caption("This eval set has no latency_ms, so latency cannot be shown.")
        share_bars(point["share"])

    # -- SLA ---------------------------------------------------------------------------------------
    with st.expander("SLA: which thresholds meet your targets?", expanded=False):
        t1, t2, t3 = st.columns(3)
        targets = {
            "min_quality": t1.number_input("Minimum quality", 0.0, 1.0, value=None, step=0.01,
                                           key="sla_min_quality"),
            "max_cost": t2.number_input("Max cost per query (USD)", 0.0, value=None, step=0.0001,
                                        format="%.6f", key="sla_max_cost"),
            "max_escalation": t3.number_input("Max escalation rate", 0.0, 1.0, value=None, step=0.05,
                                              key="sla_max_escalation"),
        }
        if has_latency:
            l1, l2, l3 = st.columns(3)
            targets["p50_ms"] = l1.number_input("p50 latency at most (ms)", 0.0, value=None, key="sla_p50")
            targets["p95_ms"] = l2.number_input("p95 latency at most (ms)", 0.0, value=None, key="sla_p95")
            targets["p99_ms"] = l3.number_input("p99 latency at most (ms)", 0.0, value=None, key="sla_p99")
        if any(v is not None for v in targets.values()):
            try:
                sla = sla_search(fr, targets)
            except InputError as err:
                st.error(str(err))
            else:
                checks = {"min_quality": point["quality"] >= (targets["min_quality"] or 0),
                          "max_cost": point["cost_per_item"] <= (targets["max_cost"] or 0),
                          "max_escalation": point["escalation_rate"] <= (targets["max_escalation"] or 0)}
                checks.update({k: point[k] <= (targets.get(k) or 0) for k in ("p50_ms", "p95_ms", "p99_ms")})
                current_ok = all(ok for k, ok in checks.items() if targets.get(k) is not None)
                st.markdown("✅ The current thresholds meet every target." if current_ok else
                            "❌ The current thresholds miss at least one target.")
                st.write(sla.message)
                if sla.best is not None:
                    b = sla.best
                    st.success(f"Thresholds {', '.join(f'{t:.3f}' for t in b['thresholds'])}: quality "
                               f"{b['quality']:.3f} at ${b['cost_per_item']:.6f}/item, escalation "
                               f"{b['escalation_rate']:.1%}"
                               + (f", p95 {b['p95_ms']:,.0f} ms" if "p95_ms" in b and b['p95_ms'] == b['p95_ms'] else ""))

                    def _apply(values=tuple(b["thresholds"])):
                        for k, v in zip(slider_keys, values):
                            st.session_state[k] = float(min(v, MAX_THRESHOLD))

                    st.button("Use these thresholds", on_click=_apply, key="sla_apply")
                n_ok = int(sla.table["ok"].fillna(False).sum())
                st.caption(f"{n_ok:,} of {len(fr.points):,} points known to comply"
                           + (f"; latency checked on {sla.checked_latency:,}" if sla.checked_latency else ""))

    # -- projection --------------------------------------------------------------------------------
    with st.expander("Projection: what this costs at your volume", expanded=True):
        volume = st.number_input("Requests per day", min_value=0.0, value=10_000.0, step=1000.0,
                                 key="cascade_volume")
        spend = project_spend(point["cost_per_item"], volume)
        base = project_spend(point["strong_cost_per_item"], volume)
        # A saving is a negative difference: "-$8.10", an arrow down, green (delta_color inverse).
        for col, (label, key) in zip(st.columns(3), [("Per day", "day"), ("Per month", "month"),
                                                     ("Per year", "year")]):
            col.metric(label, f"${spend[key]:,.2f}",
                       **signed(spend[key] - base[key], money, lower_is_better=True,
                                same=f"same as {point['strong_model']}"))
        st.caption(f"Deltas against {point['strong_model']} alone at the same volume: below zero "
                   "(green) is a saving.")

    # -- savings beyond routing (prompt caching, batch APIs): ui/whatif_panel.py --------------------
    whatif_panel(evalset, es_id, fr, point, volume, key=(ref, tuple(thresholds)))

    # -- save / download ---------------------------------------------------------------------------
    policy = fr.cascade(thresholds)
    meta = {"evalset": evalset.name, "quality": point["quality"], "cost_per_item": point["cost_per_item"],
            "escalation_rate": point["escalation_rate"], "items": evalset.n_items,
            "measured": "in-sample on this eval set"}
    save_policy_panel(policy, meta, f"cascade {' > '.join(models)}", key="cascade")


tune()

# -- calibration ---------------------------------------------------------------------------------
with st.expander("Calibration: does the signal mean what it says?", expanded=False):
    audit = calibration_audit(evalset, fr.signal, models[:-1])
    if "error" in audit and audit["error"].notna().any():
        st.info(" ".join(audit["error"].dropna()))
    else:
        st.dataframe(audit.rename(columns={"mean_signal": "mean signal", "ece": "ECE", "auc": "AUC"}),
                     hide_index=True, column_config={"accuracy": st.column_config.NumberColumn(format="percent")})
        table, ece = reliability(fr.signal.scores(evalset, models[0]), evalset.score[:, evalset.model_index(models[0])])
        st.plotly_chart(reliability_figure(table, f"{models[0]}: ECE {ece:.3f}"), key="cascade_reliability")
        st.caption("Expected calibration error (ECE): the items' mean gap between the signal and "
                   "the share right, over 10 bins, in-sample on this eval set. A cascade needs the "
                   "ranking (AUC); reading a threshold as a probability needs both.")

# -- recommendation ------------------------------------------------------------------------------
with st.expander("Recommend thresholds for a goal (held-out figures)", expanded=False):
    goal = goal_form(list(evalset.models), models[-1], key="cascade_goal")
    if st.button("Recommend", key="cascade_recommend"):
        try:
            with st.spinner("Cross-validating policies..."):
                st.session_state["cascade_rec"] = (config_key, recommend(evalset, str(goal),
                                                                         candidates=list(fr.models)))
        except InputError as err:
            st.error(str(err))
    stored = st.session_state.get("cascade_rec")
    if stored is not None and stored[0] == config_key:
        rec = stored[1]
        st.write(rec.summary_line())
        st.caption("Held-out estimate with its 95% interval: each row scored by signals fitted "
                   "without it, corrected for the optimism of choosing among the plans."
                   + (f" {judge_note}" if judge_note else ""))
        part = main_part(rec.policy)
        if isinstance(part, Cascade) and list(part.models) == models and part.signal.kind == kind:

            def _use(values=tuple(part.thresholds)):
                for k, v in zip(slider_keys, values):
                    st.session_state[k] = float(min(max(v, 0.0), MAX_THRESHOLD))

            st.button("Apply to the sliders", on_click=_use, key="cascade_rec_apply",
                      help="Sets the thresholds above to the recommended ones"
                           + (" (the mix's larger part)" if part is not rec.policy else ""))
        st.json(rec.to_dict()["policy"], expanded=False)

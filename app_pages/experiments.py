"""Experiments: live A/B, shadow and staged rollouts on gateway traffic; replays on eval sets to plan one."""
from __future__ import annotations

import json

import streamlit as st

from core.errors import InputError
from core.experiments.store import list_experiments, load_experiment
from core.exports import signed_text
from ui.experiments_view import ab_record, sample_size_calculator, save_button, shadow_record, show_record
from ui.experiments_widgets import ab_settings, guardrail_settings
from ui.live_experiments import live_section
from ui.policy_widgets import policy_picker
from ui.state import evalset_picker, evalset_version, workspace

st.title("Experiments")
tab_live, tab_plan = st.tabs(["Live experiments", "Plan an experiment"])
with tab_live:
    st.caption("A/B, shadow and staged rollout on the gateway's traffic, judged by production "
               "feedback; the gateway advances and rolls back by itself, even with this page closed.")
    live_section()
with tab_plan:
    st.caption("Before going live: replay an A/B on a recorded eval set, or run the candidate in "
               "shadow beside production, and get a go / no-go answer.")
    evalset = evalset_picker()
    if evalset is None:
        st.stop()
    if evalset.n_models == 0:
        st.info("This eval set has inputs only: run it live first (Live run page), then compare policies.")
        st.stop()
    evalset_id = st.session_state["evalset_id"]

    tab_ab, tab_shadow, tab_saved = st.tabs(["A/B", "Shadow", "Saved experiments"])

    with tab_ab:
        left, right = st.columns(2)
        with left:
            control = policy_picker(evalset, "ab_a", "A: control (production)", "best")
        with right:
            candidate = policy_picker(evalset, "ab_b", "B: candidate", "cascade")
        settings = ab_settings(evalset, "ab")
        if control is not None and candidate is not None:
            try:
                record = ab_record(str(workspace().path), int(evalset_id), json.dumps(control, sort_keys=True),
                                   json.dumps(candidate, sort_keys=True), json.dumps(settings, sort_keys=True),
                                   evalset_version(evalset_id))
            except InputError as err:
                st.error(str(err))
            else:
                show_record(record, "ab")
                save_button(record, "ab")
                base = record["results"]["arms"]["control"]["quality"]["value"]
                sample_size_calculator(base, settings["split"], "ab")

    with tab_shadow:
        left, right = st.columns(2)
        with left:
            production = policy_picker(evalset, "sh_a", "Production", "best")
        with right:
            shadow_candidate = policy_picker(evalset, "sh_b", "Candidate (in shadow)", "cascade")
        c1, c2, c3 = st.columns(3)
        with c1:
            sh_name = st.text_input("Shadow experiment name (ledger tag)", "shadow-candidate", key="sh_name")
            volume = st.number_input("Requests per month (for projected savings)", 1, 10**10, 100_000, 1000,
                                     key="sh_volume")
        with c2:
            sh_tol = st.number_input("Tolerance: largest acceptable quality drop", 0.0, 0.5, 0.02, 0.005,
                                     format="%.3f", key="sh_tol")
        with c3:
            sh_guard = guardrail_settings("sh", sh_tol)
        st.caption("Running the shadow replays the candidate on this eval set: no model is called. Its "
                   "would-be calls are recorded in the ledger as simulated spend (source 'simulation', "
                   "this experiment's name, variant 'candidate'): shown apart on the Spend page, never "
                   "billed and never counted by budgets.")
        ready = production is not None and shadow_candidate is not None
        if st.button("Run shadow", type="primary", disabled=not ready, key="sh_run", icon=":material/visibility:"):
            settings = {"name": sh_name.strip() or "shadow", "volume": float(volume), "tolerance": float(sh_tol),
                        **sh_guard}
            try:
                rec, added = shadow_record(int(evalset_id), production, shadow_candidate, settings)
            except InputError as err:
                st.error(str(err))
            else:
                st.session_state["shadow_record"] = rec
                st.session_state["shadow_added"] = added
        rec = st.session_state.get("shadow_record")
        if rec is not None:
            r = rec["results"]
            m1, m2, m3, m4 = st.columns(4)
            m1.metric("Agreement", f"{r['agreement']['value']:.1%}" if r["agreement"]["value"] is not None else "n/a",
                      help=f"{r['n_agree']:,} of {r['n_compared']:,} comparable items give the same answer")
            q = r["quality"]
            m2.metric("Quality delta", signed_text(q["diff"]) if q["diff"] is not None else "n/a",
                      help="candidate - production on items scored on both sides")
            proj = r.get("projection") or {}
            m3.metric("Projected monthly savings",
                      f"${proj['monthly_savings']:,.0f}" if proj.get("monthly_savings") is not None else "n/a")
            m4.metric("Disagreeing items", f"{r['n_disagreements']:,}")
            st.caption(f"Recorded {st.session_state.get('shadow_added', 0):,} simulated call(s) in the "
                       f"ledger under experiment '{rec['name']}': simulated, unbilled spend, not counted "
                       "by budgets (a rerun adds none: call ids are stable).")
            show_record(rec, "sh")
            save_button(rec, "sh")

    with tab_saved:
        saved = list_experiments(workspace())
        if saved.empty:
            st.info("No saved experiment yet: run an A/B or a shadow and save it.")
        else:
            st.dataframe(saved, hide_index=True, width="stretch")
            ids = saved["id"].tolist()
            labels = {row.id: f"#{row.id} {row.name} ({row.kind}, {row.verdict})" for row in saved.itertuples()}
            chosen = st.selectbox("Open", ids, format_func=labels.get, key="saved_pick")
            show_record(load_experiment(workspace(), chosen), f"saved_{chosen}")

"""The live half of the Experiments page: start, watch and steer experiments on gateway traffic.

Everything shown comes from :func:`core.experiments.live_report.live_status` (the memo renders
the same dict), so the verdict, the rollout stage and the guardrail table cannot disagree.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from core.errors import InputError
from core.experiments.live import LiveSpec, Settings, current_specs
from core.experiments.live_report import live_memo, live_status
from core.experiments.live_scores import live_scorer_specs
from core.experiments.memo import render_html, render_pdf
from core.experiments.outcomes import import_outcomes
from core.gateway.experiment_admin import act, servable, start_experiment
from ui.state import workspace

BADGE_COLOR = {"go": "green", "no-go": "red", "inconclusive": "orange"}
ACTION_TEXT = {"advance": "advance to the next stage", "rollback": "roll back to 0%",
               "hold": "hold this stage"}


def experiments_table() -> pd.DataFrame:
    specs = current_specs(workspace())
    return pd.DataFrame([{"experiment": s.name, "route": f"tradeoff/{s.route}", "control": s.control,
                          "candidate": s.candidate, "mode": s.mode, "state": s.state.replace("_", " "),
                          "candidate share": f"{s.serving_share:.0%}",
                          "shadow share": f"{s.shadow_share:.0%}"} for s in specs.values()])


def start_form() -> None:
    names = servable(workspace())
    with st.form("live_start"):
        st.markdown("**Start a live experiment**")
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("Name (the ledger's experiment)", "candidate-test", key="live_name")
        route = c2.selectbox("Route (clients call tradeoff/ROUTE)", names, key="live_route")
        unit = c3.text_input("Unit: a header, or 'request'", "x-tradeoff-user", key="live_unit")
        c4, c5, c6 = st.columns(3)
        control = c4.selectbox("Control (A)", names, key="live_control")
        candidate = c5.selectbox("Candidate (B)", names, index=min(1, len(names) - 1), key="live_candidate")
        mode = c6.radio("Mode", ["rollout", "ab"], horizontal=True, key="live_mode",
                        format_func={"rollout": "staged rollout 5→25→50→100%", "ab": "fixed A/B split"}.get)
        c7, c8, c9, c10 = st.columns(4)
        share = c7.number_input("A/B: candidate share", 0.0, 1.0, 0.5, 0.05, key="live_share")
        shadow = c8.number_input("Shadow share of control requests", 0.0, 1.0, 0.0, 0.05, key="live_shadow")
        budget = c9.number_input("Shadow budget, USD a day", 0.0, 1e6, 5.0, 1.0, key="live_budget")
        tol = c10.number_input("Tolerance (largest quality drop)", 0.0, 0.5, 0.02, 0.005, format="%.3f",
                               key="live_tol")
        hooks = st.text_input("Webhooks (comma-separated URLs; every transition is sent)", "", key="live_hooks")
        st.caption("Live scorers: judge every answer served in either arm; a request's quality is its "
                   "feedback where it has some, else these verdicts (live traffic has no expected "
                   "answer, so only these three apply).")
        s1, s2, s3 = st.columns([1, 2, 3])
        as_json = s1.checkbox("Answer is valid JSON", key="live_score_json")
        pattern = s2.text_input("Answer matches regex", "", key="live_score_regex", placeholder="^(yes|no)$")
        schema = s3.text_input("Answer conforms to JSON schema (inline)", "", key="live_score_schema",
                               placeholder='{"type": "object", "required": ["answer"]}')
        go = st.form_submit_button("Start", type="primary", icon=":material/play_arrow:")
    if go:
        wanted = (["json"] if as_json else []) + ([f"regex:{pattern}"] if pattern.strip() else []) \
            + ([f"json-schema:{schema}"] if schema.strip() else [])
        try:
            scorers = live_scorer_specs(wanted)
        except InputError as err:
            st.error(str(err))
            return
        spec = LiveSpec(name.strip(), route=route or "", control=control or "", candidate=candidate or "",
                        unit=unit.strip().lower(), mode=mode, share=float(share), shadow_share=float(shadow),
                        shadow_budget_usd=float(budget),
                        webhooks=tuple(u.strip() for u in hooks.split(",") if u.strip()), scorers=scorers,
                        settings=Settings(tolerance=float(tol), mde=max(float(tol), 0.01)))
        try:
            start_experiment(workspace(), spec, reason="started from the console")
        except InputError as err:
            st.error(str(err))
        else:
            st.session_state["live_started"] = spec.name  # picked on the rerun, before the picker exists
            st.rerun()


def controls(status: dict) -> None:
    cols = st.columns(5)
    for col, (action, label, icon) in zip(cols, (
            ("pause", "Pause", ":material/pause:"), ("resume", "Resume", ":material/play_arrow:"),
            ("advance", "Advance", ":material/skip_next:"), ("rollback", "Roll back", ":material/undo:"),
            ("stop", "Stop", ":material/stop:"))):
        if col.button(label, key=f"live_{action}", icon=icon):
            try:
                act(workspace(), status["name"], action, f"{action} by hand from the console")
            except InputError as err:
                st.error(str(err))
            else:
                st.rerun()


def show_status(status: dict) -> None:
    d = status["decision"]
    st.badge(f"Verdict: {d['verdict']}", color=BADGE_COLOR.get(d["verdict"], "gray"), icon=":material/gavel:")
    st.markdown(f"**Rollout: {ACTION_TEXT[d['action']]}** at stage {status['stage']}% "
                f"({status['state'].replace('_', ' ')}). {d['reason']}")
    st.caption(status["rule"])
    arms = status["arms"]
    m = st.columns(4)
    m[0].metric("Stage", f"{status['stage']}%", help="The candidate's share of units now")
    m[1].metric("Requests (control / candidate)", f"{arms['control']['requests']:,} / {arms['candidate']['requests']:,}")
    saving = d["saving"].get("per_request_usd") or {}
    m[2].metric("Saving per request (this stage)", "n/a" if saving.get("estimate") is None
                else f"${saving['estimate']:,.6f}")
    m[3].metric("Requests this stage", f"{status['stage_requests']:,}")
    rows = []
    for arm in ("control", "candidate"):
        a = arms[arm]
        q, c = a["quality"], a["cost_per_request"]
        rows.append({"arm": arm, "requests": a["requests"], "errors": a["errors"],
                     "cost / request": _range(c, money=True), "quality": _range(q),
                     "quality source": f"{q['source']} (n={q['n']})", "p95 ms": a["p95_ms"],
                     "spend USD": a["cost_usd"]})
    st.markdown("**Whole experiment** (always-valid 95% ranges)")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.markdown("**Guardrails at this stage** (they decide the verdict and the rollout)")
    st.dataframe(pd.DataFrame([{"guardrail": c["name"], "state": c["state"], "value": c["estimate"],
                                "low": c["low"], "high": c["high"], "limit": c["limit"],
                                "rule / source": c.get("source") or c["rule"]} for c in d["checks"]]),
                 hide_index=True, width="stretch")
    sh = status["shadow"]
    if sh.get("pairs"):
        st.caption(f"Shadow: {sh['pairs']:,} real pairs, agreement "
                   f"{'n/a' if sh.get('agreement') is None else format(sh['agreement'], '.1%')}, "
                   f"{sh['shadow_failed']:,} shadow failure(s), shadow spend ${sh['shadow_spend_usd']:,.4f} "
                   "(billable, kept apart from production), projected monthly saving "
                   + ("n/a" if sh.get("projected_monthly_saving_usd") is None
                      else f"${sh['projected_monthly_saving_usd']:,.2f}"))
    if d.get("sample_size"):
        st.caption(f"Sample size: about {d['sample_size']:,} requests per arm detect a quality change of "
                   f"{status['spec']['settings']['mde']:g}.")
    st.markdown("**Decision log**")
    log = pd.DataFrame(status["log"], columns=["ts", "action", "actor", "share", "state", "reason", "delivery"])
    log["share"] = log["share"].map(lambda x: "n/a" if pd.isna(x) else f"{x:.0%}")
    st.table(log.rename(columns={"ts": "when (UTC)", "actor": "by", "delivery": "webhooks"}))
    content = live_memo(status)
    c1, c2 = st.columns(2)
    c1.download_button("Go/no-go memo (HTML)", render_html(content), file_name=f"{status['name']}-memo.html",
                       mime="text/html", key="live_memo_html", icon=":material/download:")
    c2.download_button("Go/no-go memo (PDF)", lambda: render_pdf(content, chart=False),
                       file_name=f"{status['name']}-memo.pdf", mime="application/pdf",
                       key="live_memo_pdf", icon=":material/picture_as_pdf:")


def _range(d: dict, money: bool = False) -> str:
    if d.get("estimate") is None:
        return "n/a"
    f = (lambda v: f"${v:,.6f}") if money else (lambda v: f"{v:.3f}")
    if d.get("low") is None:
        return f(d["estimate"])
    return f"{f(d['estimate'])} ({f(d['low'])} to {f(d['high'])})"


def outcomes_upload() -> None:
    up = st.file_uploader("Import outcomes (CSV: request_id and score, thumbs or label)", type=["csv"],
                          key="live_outcomes")
    if up is None or st.session_state.get("live_outcomes_done") == up.file_id:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / up.name
        path.write_bytes(up.getvalue())
        try:
            done = import_outcomes(workspace(), path, up.name)
        except InputError as err:
            st.error(str(err))
            return
    st.session_state["live_outcomes_done"] = up.file_id
    st.success(f"Imported {done['rows']:,} outcome(s) from {up.name}.")


def live_section() -> None:
    table = experiments_table()
    if table.empty:
        st.info("No live experiment yet. Deploy the control and the candidate on the gateway "
                "(`python -m core serve`), then start one below: the gateway splits the route's "
                "traffic, and takes feedback at POST /v1/feedback.")
    else:
        st.dataframe(table, hide_index=True, width="stretch")
        names = table["experiment"].tolist()
        started = st.session_state.pop("live_started", None)
        if started in names:
            st.session_state["live_pick"] = started
        pick = st.selectbox("Experiment", names, key="live_pick")
        status = live_status(workspace(), pick)
        show_status(status)
        controls(status)
        outcomes_upload()
    start_form()

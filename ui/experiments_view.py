"""Rendering of experiment results (fresh or saved) on the Experiments page.

Everything renders from the experiment *record* (``{"name", "kind", "definition", "results"}``),
the same form that is saved and that the memo is built from, so the page, the saved copy and
the memo always show the same numbers.
"""
from __future__ import annotations

import json
import re

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.errors import InputError
from core.evaluation import stats
from core.experiments.guardrails import Guardrails
from core.experiments.memo import memo_content, memo_html, memo_pdf
from core.experiments.store import (
    ab_definition,
    run_ab,
    run_shadow,
    save_experiment,
    shadow_definition,
)
from ui.state import get_evalset, workspace

BADGE_COLOR = {"go": "green", "no-go": "red", "inconclusive": "orange"}


@st.cache_data(show_spinner="Replaying the A/B...", max_entries=32)
def ab_record(workspace_path: str, evalset_id: int, control_json: str, candidate_json: str,
              settings_json: str, version: str = "") -> dict:
    """A replayed A/B as a record (cached: reruns of the page reuse it). ``workspace_path`` is
    part of the cache key because eval-set ids are only unique within one workspace, ``version``
    because the eval set's scores change when a scorer is chosen for it."""
    evalset = get_evalset(evalset_id)
    control, candidate = json.loads(control_json), json.loads(candidate_json)
    settings = json.loads(settings_json)
    kwargs = dict(settings, guardrails=Guardrails(**settings["guardrails"]))
    result = run_ab(evalset, control, candidate, **kwargs)
    return {"name": settings["name"], "kind": "ab",
            "definition": ab_definition(evalset, control, candidate, **kwargs),
            "results": result.to_dict()}


def shadow_record(evalset_id: int, production: dict, candidate: dict, settings: dict) -> tuple[dict, int]:
    """Run a shadow replay now (it writes the candidate's calls to the ledger)."""
    evalset = get_evalset(evalset_id)
    kwargs = dict(settings, guardrails=Guardrails(**settings["guardrails"]))
    result, added = run_shadow(evalset, production, candidate, ws=workspace(), **kwargs)
    return ({"name": settings["name"], "kind": "shadow",
             "definition": shadow_definition(evalset, production, candidate, **kwargs),
             "results": result.to_dict()}, added)


@st.cache_data(show_spinner="Writing the PDF memo...", max_entries=16)
def _pdf(record_json: str) -> bytes:
    return memo_pdf(json.loads(record_json))


def verdict_badge(record: dict) -> None:
    v = record["results"].get("verdict") or {}
    decision = v.get("decision", "n/a")
    st.badge(f"Verdict: {decision}", color=BADGE_COLOR.get(decision, "gray"),
             icon=":material/gavel:")
    st.markdown(v.get("reason", ""))


def _table(t) -> pd.DataFrame:
    return pd.DataFrame(t.rows, columns=t.header)


def quality_chart(record: dict) -> go.Figure | None:
    content = memo_content(record)
    if not content.chart:
        return None
    labels = [p[0] for p in content.chart]
    fig = go.Figure(go.Scatter(
        x=[p[1] for p in content.chart], y=labels, mode="markers",
        error_x=dict(type="data", symmetric=False, array=[p[3] - p[1] for p in content.chart],
                     arrayminus=[p[1] - p[2] for p in content.chart]),
        marker=dict(size=10), name="candidate - control"))
    fig.add_vline(x=0, line_color="gray")
    if content.tolerance:
        fig.add_vline(x=-content.tolerance, line_dash="dash", line_color="crimson",
                      annotation_text="-tolerance")
    fig.update_layout(height=120 + 40 * len(labels), margin=dict(l=10, r=10, t=30, b=10),
                      title="Quality difference, candidate - control (95% CI)",
                      xaxis_title="quality difference")
    return fig


def show_record(record: dict, key: str) -> None:
    """Verdict, warnings, every table of the memo, the chart and the memo downloads."""
    verdict_badge(record)
    content = memo_content(record)
    for w in content.warnings:
        st.warning(w)
    fig = quality_chart(record)
    if fig is not None:
        st.plotly_chart(fig, key=f"{key}_chart")
    for t in content.tables:
        st.markdown(f"**{t.title}**")
        st.dataframe(_table(t), hide_index=True, width="stretch")
        if t.note:
            st.caption(t.note)
    with st.expander("Setup"):
        st.dataframe(pd.DataFrame(content.facts, columns=["", "value"]), hide_index=True, width="stretch")
    downloads(record, key)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "experiment"


def downloads(record: dict, key: str) -> None:
    c1, c2 = st.columns(2)
    base = _slug(record["name"])
    c1.download_button("Download memo (HTML)", memo_html(record), file_name=f"{base}-memo.html",
                       mime="text/html", key=f"{key}_html", icon=":material/download:")
    record_json = json.dumps(record, sort_keys=True, default=str)
    # The PDF (fpdf2 + a matplotlib chart) is built only when the button is clicked.
    c2.download_button("Download memo (PDF)", lambda: _pdf(record_json),
                       file_name=f"{base}-memo.pdf", mime="application/pdf", key=f"{key}_pdf",
                       icon=":material/picture_as_pdf:")


def save_button(record: dict, key: str) -> None:
    if st.button("Save experiment", key=f"{key}_save", icon=":material/save:"):
        try:
            exp_id = save_experiment(workspace(), record["name"], record["kind"], record["definition"],
                                     record["results"])
        except InputError as err:
            st.error(str(err))
        else:
            st.success(f"Saved experiment '{record['name']}' (#{exp_id}).")


def sample_size_calculator(baseline: float | None, split: float, key: str) -> None:
    """Items needed to detect a quality change: NormalIndPower on Cohen's h."""
    with st.expander("Sample-size calculator", expanded=False):
        c1, c2, c3, c4 = st.columns(4)
        base = c1.number_input("Baseline quality", 0.0, 1.0,
                               float(round(baseline, 3)) if baseline is not None else 0.9, 0.01,
                               key=f"{key}_ss_base")
        mde = c2.number_input("Smallest difference to detect", 0.001, 0.5, 0.02, 0.005, format="%.3f",
                              key=f"{key}_ss_mde")
        alpha = c3.number_input("Alpha", 0.001, 0.2, 0.05, 0.01, format="%.3f", key=f"{key}_ss_alpha")
        power = c4.number_input("Power", 0.5, 0.99, 0.8, 0.05, key=f"{key}_ss_power")
        ratio = split / (1 - split)
        try:
            n_control = stats.sample_size_proportions(base, mde, alpha, power, ratio)
        except ValueError as err:
            st.error(str(err))
            return
        n_candidate = int(-(-n_control * ratio // 1))
        st.metric("Items needed", f"{n_control + n_candidate:,}",
                  help="Two-sided test of two proportions, normal approximation")
        st.caption(f"{n_control:,} control + {n_candidate:,} candidate items "
                   f"({split:.0%} of traffic to the candidate).")

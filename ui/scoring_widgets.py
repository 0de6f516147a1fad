"""The Compare page's scoring panel: which scorer each task uses, changing it, and an LLM judge
run with its cost estimate first and its progress while it runs (in a background thread of the
server, so a closed tab does not stop it; it resumes when started again)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.evaluation.rescore import Rescored, set_scorer
from core.evaluation.score_store import ALL_TASKS, set_plan
from core.evaluation.scorers import SCORERS, parse_scorer
from ui.run_widgets import key_panel, progress_view

KINDS = {"file": "As in the file", "exact": "Exact match (normalised)",
         "numeric": "Numeric, with a tolerance", "regex": "Regular expression",
         "choice": "Choice letter (A, B, C...)", "json": "Valid JSON",
         "json-schema": "JSON schema", "similarity": "Similarity to the reference (embeddings)",
         "chrf": "chrF against the reference", "judge": "LLM judge"}
ARGUMENT = {"numeric": ("Tolerance (0.01 absolute, or 1%)", "0"),
            "regex": ("Pattern (Python syntax; (?i) ignores case)", ""),
            "choice": ("Option letters (blank: A up to the highest expected)", ""),
            "similarity": ("Threshold (cosine; blank: calibrate on rows with a human score)", ""),
            "chrf": ("Threshold from 0 to 1 (blank: graded chrF)", "")}


def _spec(kind: str) -> str | None:
    if kind == "file":
        return None
    if kind == "json-schema":
        schema = st.text_area("JSON schema", key="scorer_schema", height=120,
                              placeholder='{"type": "object", "required": ["label"]}')
        return f"json-schema:{schema.strip()}"
    if kind in ARGUMENT:
        label, default = ARGUMENT[kind]
        arg = st.text_input(label, value=default, key=f"scorer_arg_{kind}").strip()
        return f"{kind}:{arg}" if arg else kind
    return kind


def scorer_panel(ws, set_id: int, raw: EvalSet, scored: Rescored) -> None:
    """The scorer per task, and a form to change it (judges: estimate, start, progress)."""
    st.dataframe(scored.task_table(), hide_index=True, width="stretch", key="compare_scorers")
    for part in scored.parts:
        if part.info and "heldout_agreement" in part.info:
            st.caption(f"{part.label}: threshold calibrated on {part.info['rows']:,} answers with a "
                       f"human score; held-out agreement {part.info['heldout_agreement']:.1%} "
                       f"({part.info['folds']}-fold cross-validation).")
    judging = judge_progress()
    with st.expander("Change how answers are scored", expanded=False):
        tasks = [str(t) for t in pd.unique(raw.tasks)]
        options = [ALL_TASKS] + (tasks if len(tasks) > 1 else [])
        c1, c2 = st.columns(2)
        task = c1.selectbox("Task", options, key="scorer_task",
                            format_func=lambda t: "every task" if t == ALL_TASKS else t)
        kind = c2.selectbox("Scorer", list(KINDS), format_func=KINDS.get, key="scorer_kind")
        if kind in SCORERS:
            st.caption(SCORERS[kind].description.capitalize() + ".")
        if kind == "judge":
            if not judging:
                judge_form(ws, set_id, raw, task)
            return
        spec = _spec(kind)
        if st.button("Apply scorer", key="scorer_apply", type="primary"):
            try:
                with st.spinner("Scoring..."):
                    part = set_scorer(ws, set_id, raw, parse_scorer(spec) if spec else None, task)
            except InputError as err:
                st.error(str(err))
            else:
                st.toast(f"Scored with {part.label}: {part.computed:,} new, {part.reused:,} reused"
                         if part else "Back to the scores in the file")
                st.rerun()


def judge_form(ws, set_id: int, raw: EvalSet, task: str) -> None:
    from core.live.background import start_background
    from core.live.judge import DEFAULT_RUBRIC, RECHECK, Judge, JudgeJob
    from core.live.providers import parse_model_id
    from core.live.types import RunConfig

    c1, c2 = st.columns(2)
    model = c1.text_input("Judge model (provider:model)", value="openai:gpt-4o-mini",
                          key="judge_model").strip()
    against = c2.selectbox("Compare with", [""] + list(raw.models), key="judge_against",
                           format_func=lambda m: m or "nothing: judge each answer alone (pointwise)")
    rubric = st.text_area("Rubric (blank: the default below)", key="judge_rubric",
                          placeholder=DEFAULT_RUBRIC)
    c1, c2 = st.columns(2)
    recheck = c1.number_input("Answers judged twice (self-agreement)", 0, 1000, RECHECK,
                              key="judge_recheck")
    concurrency = c2.number_input("Calls in flight at once", 1, 64, 8, key="judge_concurrency")
    try:
        provider = parse_model_id(model)[0]
        keys, missing = key_panel([provider])
        judge = Judge.from_spec(f"judge:{model}", rubric, against or None)
        job = JudgeJob(ws, raw, judge, None if task == ALL_TASKS else task, recheck=int(recheck),
                       config=RunConfig(concurrency=int(concurrency)), keys=keys)
        estimate = job.estimate()
    except InputError as err:
        st.error(str(err))
        return
    st.dataframe(estimate.rename(columns={"cost_usd": "cost ($, at most)"}), hide_index=True,
                 width="stretch", key="judge_estimate")
    calls = int(estimate["calls"].sum()) if len(estimate) else 0
    known = estimate["cost_usd"].dropna()
    cost = (f", at most **${known.sum():,.4f}**" if len(known) == len(estimate) and calls
            else ", cost unknown (no catalog price for the judge)" if calls else "")
    st.markdown(f"**{calls:,} judge calls**{cost}; {job.reused:,} answers already judged by this "
                "judge are reused.")
    st.caption("Input tokens are estimated from the prompt length, output tokens at the limit: an "
               "upper bound. Judge calls are recorded in the ledger as evaluation spend, apart "
               "from production.")
    if missing:
        st.error(f"No API key for {', '.join(missing)}: set the environment variable or type it "
                 "under API keys.")
    if st.button("Start judging", key="judge_start", type="primary", disabled=bool(missing)):
        set_plan(ws, set_id, task, job.scorer_id)
        st.session_state["judge_run_id"] = start_background(job).run_id
        st.rerun()


def judge_progress() -> bool:
    """Progress of this session's judge run; True while it runs."""
    from core.live.background import active_run

    run_id = st.session_state.get("judge_run_id")
    handle = active_run(run_id) if run_id else None
    if handle is None:
        return False
    if handle.done:
        if handle.error:
            st.error(f"The judge run stopped on an error: {handle.error}")
        elif handle.result is not None and handle.result.status != "finished":
            st.warning(f"The judge run {handle.result.status}: {handle.result.message or ''} "
                       "Start it again to finish it (verdicts already given are kept).")
        elif handle.result is not None and handle.result.progress.failed:
            st.warning(f"{handle.result.progress.failed} judge call(s) failed after retries: those "
                       "answers stay unscored until the judge runs again.")
        return False
    _progress_fragment(run_id)
    return True


@st.fragment(run_every=1.0)
def _progress_fragment(run_id: str) -> None:
    from core.live.background import active_run

    handle = active_run(run_id)
    if handle is None:
        return
    st.markdown(f"**{handle.name}**")
    progress_view(handle.progress, key="judge")
    if handle.done:
        st.rerun()
    elif st.button("Cancel judging", key=f"judge_cancel_{run_id}", icon=":material/stop_circle:"):
        handle.cancel()
        st.toast("Cancelling: calls in flight finish and are recorded.")

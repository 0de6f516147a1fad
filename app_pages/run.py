"""Live run: send an eval set's inputs to real models, every call recorded as it arrives.

The run goes on in a background thread of the server: closing the tab does not stop it, and
this page finds it again (progress, cancel). An unfinished run resumes where it stopped.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import streamlit as st

from core.errors import InputError
from core.live.background import active_run, running_ids, start_background
from core.live.cache import CacheConfig
from core.live.run import LiveRun, RunConfig
from core.live.store import get_run, list_runs
from ui.errors import guarded
from ui.run_widgets import key_panel, model_picker, progress_view, providers_of
from ui.state import evalset_picker, follow, get_evalset, seed, workspace
from ui.tables import money_column

st.title("Live run")
st.caption("Run an eval set's inputs through Claude, GPT, Gemini or a local server. Every call "
           "is written to the workspace and the spend ledger as it finishes, so a crash, a closed "
           "tab or a cancel loses nothing, and a resumed run never pays for an answer twice.")
ws = workspace()


@st.fragment(run_every=1.0)
@guarded
def live_progress(run_id: str) -> None:
    handle = active_run(run_id)
    if handle is None:
        return
    st.markdown(f"**{handle.name}** · {', '.join(handle.models)}")
    progress_view(handle.progress)
    if handle.done:
        if handle.error:
            st.error(f"The run stopped on an error: {handle.error}")
        st.rerun()
    elif st.button("Cancel run", key=f"cancel_{run_id}", icon=":material/stop_circle:"):
        handle.cancel()
        st.toast("Cancelling: calls in flight finish and are recorded.")


def results_summary(run_id: str) -> None:
    info = get_run(ws, run_id)
    if info is None:
        return
    runs = list_runs(ws).set_index("run_id")
    row = runs.loc[run_id]
    st.subheader(f"Run {info['name']}")
    spend = f"spend ${row['spend_usd']:.4f}"
    if row["unpriced"]:
        spend += f" (+ {int(row['unpriced'])} call(s) of models without a catalog price)"
    st.markdown(f"Status **{info['status']}** · {int(row['ok'])} answered, {int(row['cached'])} "
                f"from cache, {int(row['failed'])} failed · {spend}")
    if info.get("message"):
        # why calls failed (e.g. 'connection: could not reach ...') must be seen, not a footnote
        (st.warning if int(row["failed"]) else st.caption)(info["message"])
    results_id = info.get("results_evalset_id")
    if results_id is None or pd.isna(results_id):
        st.info("No answers to show yet.")
        return
    evalset = get_evalset(int(results_id))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a model with no answer: NaN, shown as such
        table = pd.DataFrame({
            "model": evalset.models,
            "quality": np.nanmean(evalset.score, axis=0) if evalset.has_labels else np.nan,
            "answered": (~pd.isna(evalset.output)).sum(axis=0),
            "cost per item ($)": np.nanmean(evalset.cost, axis=0),
            "median latency (ms)": np.nanmedian(evalset.latency_ms, axis=0),
            "mean confidence": np.nanmean(evalset.confidence, axis=0),
        })
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"quality": st.column_config.NumberColumn(format="%.3f"),
                                "cost per item ($)": money_column(decimals=6)})
    for note in evalset.notes:
        st.caption(f"Note: {note}")
    if st.button("Open the results in Compare models", key=f"compare_{run_id}",
                 icon=":material/leaderboard:", type="primary"):
        st.session_state["evalset_id"] = int(results_id)
        st.switch_page("app_pages/compare.py")


# -- runs in progress (any tab, any session of this server) -------------------------------------
current = st.session_state.get("live_run_id")
active = running_ids()
for run_id in active:
    live_progress(run_id)
if current and current not in active:
    results_summary(current)

# -- a new run ------------------------------------------------------------------------------------
st.header("New run")
evalset = evalset_picker("Eval set to run", key="run_evalset")
if evalset is None:
    st.stop()
if "input" not in evalset.items or evalset.items["input"].isna().all():
    st.warning("This eval set has no `input` column: a live run needs the text to send. Upload an "
               "inputs-only CSV (`input`, optional `item_id`, `label`, `task`).")
    st.stop()
follow("run", st.session_state.get("evalset_id"), keys=["run_name"])  # the title follows the set
labeled = evalset.has_labels
st.caption(f"{evalset.n_items:,} items · "
           + ("labeled: answers are scored against the labels" if labeled
              else "no labels: answers are recorded, not scored"))

models = model_picker("run_models")
providers = providers_of(models) if models else []
keys, missing = key_panel(providers or ["anthropic", "openai", "gemini", "local"])

with st.expander("Settings", expanded=False):
    c1, c2, c3 = st.columns(3)
    concurrency = c1.number_input("Calls in flight at once", 1, 128, 8, key="run_concurrency")
    retries = c2.number_input("Retries per call (429, 5xx, timeouts)", 0, 10, 3, key="run_retries")
    timeout = c3.number_input("Timeout per call (s)", 1.0, 600.0, 60.0, key="run_timeout")
    c1, c2, c3 = st.columns(3)
    max_tokens = c1.number_input("Max output tokens", 1, 8192, 256, key="run_max_tokens")
    cap = c2.number_input("Spend cap ($, 0 = none)", 0.0, 100000.0, 0.0, step=0.5, key="run_cap")
    rate = c3.number_input("Requests per second per provider (0 = no limit)", 0.0, 1000.0, 0.0,
                           key="run_rate")
    c1, c2, c3 = st.columns(3)
    use_cache = c1.checkbox("Reuse cached answers", value=True, key="run_cache",
                            help="Exact match on provider, model, prompt and parameters.")
    ttl_h = c2.number_input("Cache time-to-live (hours)", 0.0, 24.0 * 365, 24.0 * 7, key="run_ttl")
    semantic = c3.checkbox("Semantic cache (similar inputs)", value=False, key="run_semantic",
                           help="Reuses the answer of a cached input whose wordllama sentence "
                                "embedding is close enough (cosine). Paraphrases hit; questions "
                                "differing in one decisive word can too: check its false hits.")
    threshold = st.slider("Similarity threshold", 0.5, 1.0, 0.95, 0.01, key="run_threshold",
                          disabled=not semantic)
    semantic_rates = st.container()
    fallback = st.text_input("Fallback chain when a model fails for good (provider:model, "
                             "comma-separated, tried in order)", key="run_fallback")
    confidence_source = st.radio(
        "Confidence signal", ["stated", "logprob"], horizontal=True, key="run_confidence",
        format_func={"stated": "stated by the model", "logprob": "token log-probabilities "
                     "(OpenAI; others fall back to stated)"}.get,
        help="What cascades and routers later use to decide when to escalate.")
    experiment = st.text_input("Experiment tag (ledger)", key="run_experiment")
    name = st.text_input("Run name", key=seed("run_name", evalset.name))

@st.cache_data(show_spinner="Measuring the semantic cache on this eval set...", max_entries=8)
def _semantic_rates(ws_path: str, set_id, name: str):
    from core.live.cache import semantic_cache_error_rates

    return semantic_cache_error_rates(get_evalset(int(set_id)), np.round(np.arange(0.5, 1.0001, 0.01), 2))


if semantic and labeled:
    with semantic_rates:
        try:
            rates = _semantic_rates(ws.key, st.session_state.get("evalset_id"), evalset.name)
        except InputError as err:
            st.error(str(err))
        else:
            here = rates.iloc[int((rates["threshold"] - threshold).abs().argmin())]
            false_hits = f"{here.wrong_rate:.1%}" if here.hits else "none"
            st.markdown(f"Measured on this eval set at **{threshold:.2f}**: {here.hit_rate:.1%} of "
                        f"items answered from a similar earlier item; false hits among them "
                        f"(another {here.truth}): **{false_hits}** ({int(here.wrong)} of {int(here.hits)}).")
            st.dataframe(rates[rates["threshold"].isin([0.8, 0.85, 0.9, 0.95, 0.98, 1.0])],
                         hide_index=True, width="stretch", key="run_semantic_rates")
            st.caption("hit_rate: share of items answered from a similar earlier item; "
                       "wrong_rate: share of those hits that are false (the neighbour's right "
                       "answer differs).")

if not models:
    st.info("Choose at least one model.")
    st.stop()
chain = [m.strip() for m in fallback.split(",") if m.strip()]
fallbacks = {m: [f for f in chain if f != m] for m in models} if chain else {}
if chain:
    from core.live.keys import key_status

    try:
        status = key_status(keys)
        missing = sorted(set(missing) | {p for p in providers_of(chain)
                                         if p != "local" and status.get(p) is None})
    except InputError as err:
        st.error(f"Fallback chain: {err}")
        st.stop()
config = RunConfig(
    concurrency=int(concurrency), max_retries=int(retries), timeout_s=float(timeout),
    max_tokens=int(max_tokens), spend_cap_usd=float(cap) or None,
    rate_limits={p: float(rate) for p in providers} if rate else {},
    fallbacks=fallbacks, experiment=experiment.strip() or None,
    confidence_source=confidence_source,
    cache=CacheConfig(enabled=use_cache, ttl_s={"*": float(ttl_h) * 3600.0},
                      semantic_threshold=float(threshold) if semantic else None))
try:
    run = LiveRun(ws, evalset, models, config, name=name.strip() or evalset.name,
                  evalset_id=st.session_state.get("evalset_id"), keys=keys)
    estimate = run.estimate()
except InputError as err:
    st.error(str(err))
    st.stop()

st.subheader("Cost estimate")
st.dataframe(estimate.rename(columns={"cost_usd": "estimated cost ($, at most)"}),
             hide_index=True, width="stretch")
known = estimate["cost_usd"].dropna()
total = float(known.sum()) if len(known) else float("nan")
unknown = estimate.loc[estimate["cost_usd"].isna(), "model"].tolist()
st.markdown(f"**{int(estimate['calls'].sum()):,} calls**, at most **${total:,.4f}**"
            if len(known) else f"**{int(estimate['calls'].sum()):,} calls**")
st.caption("Input tokens are estimated from the prompt length (4 characters per token); output "
           "tokens are counted at the max-output limit, so this is an upper bound.")
if unknown:
    st.warning(f"No catalog price for {', '.join(unknown)}: their spend is unknown (add a price "
               "on the Prices page); the spend cap cannot limit them.")
if missing:
    st.error(f"No API key for {', '.join(missing)}: set the environment variable, add it to "
             "`.streamlit/secrets.toml`, or type it under API keys.")
if cap and len(known) and total > cap:
    st.info(f"The estimate exceeds the spend cap: the run will stop at ${cap:,.2f}.")
if st.button("Start run", type="primary", disabled=bool(missing), icon=":material/play_arrow:",
             key="start_run"):
    handle = start_background(run)
    st.session_state["live_run_id"] = handle.run_id
    st.rerun()

# -- unfinished runs --------------------------------------------------------------------------------
runs = list_runs(ws)
unfinished = runs[(runs["status"] != "finished") & ~runs["run_id"].isin(running_ids())]
if len(unfinished):
    st.header("Unfinished runs")
    labels = {r.run_id: f"{r.name} · {'interrupted' if r.status == 'running' else r.status} · "
                        f"{int(r.ok + r.cached)} answered · {r.updated_at:%Y-%m-%d %H:%M}"
              for r in unfinished.itertuples()}
    chosen = st.selectbox("Run", list(labels), format_func=labels.get, key="resume_choice")
    info = get_run(ws, chosen)
    source_id = info.get("evalset_id")
    if source_id is None or pd.isna(source_id):
        st.caption("Started from the command line: resume it by running the same command again.")
    elif st.button("Resume", key="resume_run", icon=":material/resume:"):
        try:
            resumed = LiveRun(ws, get_evalset(int(source_id)), info["models"],
                              RunConfig.from_dict(info["config"]), name=info["name"],
                              run_id=chosen, evalset_id=int(source_id), keys=keys)
        except InputError as err:
            st.error(str(err))
        else:
            st.session_state["live_run_id"] = start_background(resumed).run_id
            st.rerun()

with st.expander("All runs in this workspace"):
    if runs.empty:
        st.caption("No run yet.")
    else:
        st.dataframe(runs.drop(columns=["evalset_id", "results_evalset_id", "models"]),
                     hide_index=True, width="stretch")

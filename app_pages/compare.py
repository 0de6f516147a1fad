"""Compare models: which model is good enough, and at what price, on one eval set.

Widgets -> ``core.evaluation.metrics`` (cached per workspace, eval set and model choice) -> plotly figures.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.evaluation import metrics
from core.evaluation.evalset import to_long_csv
from core.evaluation.score_views import judge_disagreements, model_disagreements
from core.evaluation.store import delete_evalset
from core.exports import csv_bytes
from core.workspace import default_path
from ui import compare_figures as figs
from ui.compare_widgets import disagreement_panel
from ui.efficiency_panel import efficiency_section
from ui.scoring_widgets import scorer_panel
from ui.state import evalset_picker, evalset_version, get_evalset, scored_evalset, stored_evalset, workspace
from ui.tables import money_column
from ui.version_diff import version_diff_section


# The workspace path is part of every key: ids restart at 1 in another workspace file; the
# version of the eval set's scores too: choosing a scorer changes every figure.
@st.cache_data(show_spinner="Computing the leaderboard...", max_entries=64)
def _leaderboard(ws_path: str, set_id: int, version: str, models: tuple[str, ...]):
    return metrics.leaderboard(get_evalset(set_id), list(models))


@st.cache_data(show_spinner=False, max_entries=64)
def _notes(ws_path: str, set_id: int, version: str, models: tuple[str, ...]) -> list[str]:
    return metrics.plain_notes(get_evalset(set_id), list(models))


@st.cache_data(show_spinner=False, max_entries=64)
def _per_task(ws_path: str, set_id: int, version: str, models: tuple[str, ...]):
    return metrics.per_task(get_evalset(set_id), list(models))


@st.cache_data(show_spinner=False, max_entries=64)
def _confusion(ws_path: str, set_id: int, version: str, model: str, task: str | None):
    return metrics.confusion(get_evalset(set_id), model, task)


@st.cache_data(show_spinner=False, max_entries=64)
def _disagreements(ws_path: str, set_id: int, version: str, models: tuple[str, ...], limit: int):
    table = model_disagreements(scored_evalset(set_id), list(models), limit=limit)
    return table, int(table.attrs.get("total", len(table)))


@st.cache_data(show_spinner="Preparing the CSV...", max_entries=4)
def _long_csv(ws_path: str, set_id: int, version: str) -> bytes:
    return to_long_csv(get_evalset(set_id))


def _manage(ws_path: str, set_id: int, version: str, name: str) -> None:
    with st.expander("Manage this eval set"):
        st.download_button("Download in long format (CSV)",
                           data=lambda: _long_csv(ws_path, set_id, version),
                           file_name=f"{name.rsplit('.', 1)[0]}-long.csv", mime="text/csv",
                           key="compare_download_long", icon=":material/download:")
        sure = st.checkbox("Yes, delete it from the workspace", key="compare_confirm_delete")
        if st.button("Delete this eval set", disabled=not sure, key="compare_delete",
                     icon=":material/delete:"):
            delete_evalset(workspace(), set_id)
            st.session_state.pop("evalset_id", None)
            st.session_state.pop("evalset_picker", None)
            st.session_state.pop("compare_confirm_delete", None)
            st.toast(f"Deleted {name}")
            st.rerun()


st.title("Compare models")
st.caption("Upload or pick an eval set, choose models, and see quality with its 95% interval "
           "against cost and latency.")

evalset = evalset_picker(key="evalset_picker")
if evalset is None:
    st.stop()
set_id = int(st.session_state["evalset_id"])
ws_path = str(default_path())
version = evalset_version(set_id)
_manage(ws_path, set_id, version, evalset.name)

if evalset.n_models == 0:
    st.info(f"{evalset.name} holds inputs only ({evalset.n_items:,} items, no model results): "
            "run it against models on the Live run page, then compare them here.")
    st.stop()

models = st.multiselect("Models", list(evalset.models), default=list(evalset.models),
                        key=f"compare_models_{set_id}")
if not models:
    st.warning("Choose at least one model to compare.")
    st.stop()
chosen = tuple(models)

scored = scored_evalset(set_id)
judge_note = scored.caption()  # beside every figure built on judged scores

board = _leaderboard(ws_path, set_id, version, chosen)
st.subheader("Leaderboard")
st.caption(f"{evalset.n_items:,} items. Quality is the mean score over scored items; the interval "
           "is Wilson's for 0/1 scores, Student's t for graded ones. $ / item averages every item "
           "with a known cost (a call is paid even when its answer is not scored); $ / correct = "
           "$ / item ÷ quality.")
st.dataframe(
    figs.leaderboard_table(board), hide_index=True, width="stretch", key="compare_leaderboard",
    column_config={
        "Quality": st.column_config.NumberColumn(format="%.3f"),
        "Accuracy": st.column_config.NumberColumn(format="%.3f"),
        "Macro-F1": st.column_config.NumberColumn(format="%.3f"),
        "$ / item": money_column(decimals=6),
        "$ / correct": money_column(decimals=6),
        "p50 ms": st.column_config.NumberColumn(format="%.0f"),
        "p95 ms": st.column_config.NumberColumn(format="%.0f"),
        "p99 ms": st.column_config.NumberColumn(format="%.0f"),
        "Mean confidence": st.column_config.NumberColumn(format="%.3f"),
    },
)
if judge_note:
    st.info(judge_note, icon=":material/gavel:")
for note in _notes(ws_path, set_id, version, chosen):
    st.markdown(f":material/info: {note}")
if scored.parts:
    with st.expander("Per-scorer breakdown (quality, scored, unparsed, not scored)"):
        st.dataframe(scored.breakdown().loc[lambda t: t["model"].isin(models)], hide_index=True, width="stretch",
                     key="compare_breakdown",
                     column_config={"quality": st.column_config.NumberColumn(format="%.3f")})
        st.caption("Unparsed: an output the scorer could not read (no number, no option letter, "
                   "not JSON), scored 0. Not scored: an output with no score (no reference, not "
                   "judged yet, or a judge reply that could not be read: never counted as 0).")
st.download_button("Download the leaderboard (CSV)", csv_bytes(board),
                   file_name="leaderboard.csv", mime="text/csv", key="compare_download_board",
                   icon=":material/download:")

st.subheader("How answers are scored")
scorer_panel(workspace(), set_id, stored_evalset(set_id), scored)

st.subheader("Quality against cost")
if board["cost_per_item"].notna().any():
    log_cost = st.toggle("Log cost axis", value=bool(
        board["cost_per_item"].max() > 20 * max(board["cost_per_item"].min(), 1e-12)),
        key="compare_log_cost")
    st.plotly_chart(figs.quality_cost_figure(board, log_cost=log_cost), key="compare_scatter")
    if judge_note:
        st.caption(judge_note)
else:
    st.info("No cost is known for the chosen models, so there is no quality-cost chart: add a "
            "cost_usd column, or token counts for models in the price catalog.")

# -- Cost Efficiency Score: models and saved policies ranked (ui/efficiency_panel.py) ------------
efficiency_section(set_id, version, chosen)

st.subheader("By task")
tasks = _per_task(ws_path, set_id, version, chosen)
if tasks["task"].nunique() > 1 or tasks["task"].iloc[0] != "all":
    st.plotly_chart(figs.per_task_heatmap(tasks), key="compare_tasks_heatmap")
    with st.expander("Per-task table (quality, scored items, cost per item)"):
        st.dataframe(tasks, hide_index=True, width="stretch", key="compare_tasks_table",
                     column_config={"quality": st.column_config.NumberColumn(format="%.3f"),
                                    "cost_per_item": money_column(decimals=6)})
else:
    st.caption("The eval set has no task column: every item counts as one task.")

st.subheader("Confusion matrix")
class_tasks = metrics.classification_tasks(evalset)
if not class_tasks:
    st.caption("No confusion matrix: it needs item labels and model predictions.")
else:
    left, right = st.columns(2)
    model = left.selectbox("Model", models, key="compare_confusion_model")
    task_options = class_tasks if len(class_tasks) > 1 else class_tasks[:1]
    task = right.selectbox("Task", task_options, key="compare_confusion_task")
    labels, matrix = _confusion(ws_path, set_id, version, model, task)
    if labels:
        st.plotly_chart(figs.confusion_figure(labels, matrix, model), key="compare_confusion")
        accuracy = np.trace(matrix) / max(matrix.sum(), 1)
        count = int(matrix.sum())
        st.caption(f"{count:,} item{'s' if count != 1 else ''} with a label and a prediction; "
                   f"{accuracy:.1%} on the diagonal.")
    else:
        st.caption(f"{model} has no predictions on {task}.")

st.subheader("Where the models disagree")
if len(chosen) < 2:
    st.caption("Choose two or more models to see where they disagree.")
else:
    table, total = _disagreements(ws_path, set_id, version, chosen, 500)
    if total == 0:
        st.success("The chosen models agree on every item.")
    else:
        shown = f" (the {len(table):,} with the widest score spread shown)" if total > len(table) else ""
        st.caption(f"{total:,} of {evalset.n_items:,} items get different answers or scores{shown}; "
                   "click a row for the answers and what the scorer read of each.")
        disagreement_panel(table, list(chosen), "compare_disagreements")
if judge_note:
    st.subheader("Where the judge and the human scores disagree")
    against_human = judge_disagreements(scored)
    if against_human.empty:
        st.caption("No answer with a human score in the file is judged differently.")
    else:
        st.caption(f"{against_human.attrs['total']:,} answers: the output, both scores and the "
                   "judge's reason, side by side.")
        st.dataframe(against_human, hide_index=True, width="stretch", key="compare_judge_vs_human")

version_diff_section(ws_path, set_id, chosen)

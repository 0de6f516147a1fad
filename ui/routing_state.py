"""Cached engine calls shared by the Cascade tuner and Routing pages.

Frontiers are cached per (workspace, eval set and its scores' version, models, signal): moving a slider then costs one
O(n·k) evaluation. Cached objects are treated as read-only.

A page reads the store once per full run (:func:`frontier_ref`: the scores' version) and hands the
hashable :class:`FrontierRef` to what a slider move reruns (:func:`frontier_of`,
:func:`interval_at`, :func:`frontier_chart`), so a move queries no store: one evaluation, one
matrix product for its interval (:func:`core.evaluation.intervals.bootstrap_interval`), and a
figure built once per point.
"""
from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.evaluation.intervals import bootstrap_interval
from core.routing.frontier import FrontierResult, cascade_frontier
from core.routing.signals import signal_from_dict
from core.workspace import default_path
from ui.frontier_figures import decimate, frontier_figure
from ui.state import evalset_version, get_evalset

SIGNAL_LABELS = {
    "confidence": "Self-reported confidence",
    "agreement": "Agreement of cheaper models",
    "learned": "Learned probability (scikit-learn)",
}


class FrontierRef(NamedTuple):
    """What a cached frontier is keyed by (hashable)."""

    workspace: str
    evalset_id: int
    version: str
    models: tuple[str, ...]
    signal_json: str


@st.cache_resource(max_entries=16, show_spinner="Computing every operating point...")
def _frontier(workspace: str, evalset_id: int, version: str, models: tuple[str, ...],
              signal_json: str) -> FrontierResult:
    evalset = get_evalset(evalset_id)
    signal = signal_from_dict(json.loads(signal_json))
    if getattr(signal, "needs_fit", False):
        signal.fit(evalset)  # in-sample: the page says so
    return cascade_frontier(evalset, list(models), signal)


def frontier_ref(evalset_id: int, models, signal_spec: dict) -> FrontierRef:
    """The key of a frontier on the stored eval set as scored now (one store query)."""
    return FrontierRef(str(default_path()), int(evalset_id), evalset_version(evalset_id),
                       tuple(models), json.dumps(signal_spec, sort_keys=True))


def frontier_of(ref: FrontierRef) -> FrontierResult:
    return _frontier(*ref)


def frontier_for(evalset_id: int, models, signal_spec: dict) -> FrontierResult:
    return frontier_of(frontier_ref(evalset_id, models, signal_spec))


@st.cache_data(max_entries=256, show_spinner=False)
def interval_at(ref: FrontierRef, thresholds: tuple[float, ...]) -> dict:
    """95% bootstrap intervals of quality and cost per item at ``thresholds``: the eval set's
    seeded resamples (drawn once), one matrix product per threshold setting."""
    fr = frontier_of(ref)
    # 1000 resamples, fewer on very large sets so a slider move stays fast
    n_boot = int(max(200, min(1000, 5_000_000 // max(fr.n_items, 1))))
    out = fr.outcome(list(thresholds))
    return bootstrap_interval(out.score, out.cost, n_boot=n_boot, seed=0)


@st.cache_resource(max_entries=16, show_spinner=False)
def _cloud_rows(ref: FrontierRef) -> np.ndarray:
    points = frontier_of(ref).points
    return decimate(points["cost_per_item"].to_numpy(float), points["quality"].to_numpy(float))


@st.cache_resource(max_entries=64, show_spinner=False)
def frontier_chart(ref: FrontierRef, current: tuple[float, float]) -> go.Figure:
    """The frontier chart with the current point at ``current`` = (cost per item, quality),
    built once per point (read-only: st.plotly_chart copies it)."""
    fr = frontier_of(ref)
    return frontier_figure(fr.points, fr.singles, fr.oracle,
                           {"cost_per_item": current[0], "quality": current[1]}, fr.threshold_columns,
                           cloud_rows=_cloud_rows(ref))

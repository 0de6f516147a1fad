"""Cached engine calls shared by the Cascade tuner and Routing pages.

Frontiers are cached per (workspace, eval set and its scores' version, models, signal): moving a slider then costs one
O(n·k) evaluation. Cached objects are treated as read-only.
"""
from __future__ import annotations

import json

import streamlit as st

from core.evaluation.intervals import bootstrap_interval
from core.routing.frontier import FrontierResult, cascade_frontier
from core.routing.signals import signal_from_dict
from core.workspace import default_path
from ui.state import evalset_version, get_evalset

SIGNAL_LABELS = {
    "confidence": "Self-reported confidence",
    "agreement": "Agreement of cheaper models",
    "learned": "Learned probability (scikit-learn)",
}


@st.cache_resource(max_entries=16, show_spinner="Computing every operating point...")
def _frontier(workspace: str, evalset_id: int, version: str, models: tuple[str, ...],
              signal_json: str) -> FrontierResult:
    evalset = get_evalset(evalset_id)
    signal = signal_from_dict(json.loads(signal_json))
    if getattr(signal, "needs_fit", False):
        signal.fit(evalset)  # in-sample: the page says so
    return cascade_frontier(evalset, list(models), signal)


def frontier_for(evalset_id: int, models, signal_spec: dict) -> FrontierResult:
    return _frontier(str(default_path()), int(evalset_id), evalset_version(evalset_id), tuple(models),
                     json.dumps(signal_spec, sort_keys=True))


@st.cache_data(max_entries=256, show_spinner=False)
def _bootstrap(workspace: str, evalset_id: int, version: str, models: tuple[str, ...],
               signal_json: str, thresholds: tuple[float, ...]) -> dict:
    fr = _frontier(workspace, evalset_id, version, models, signal_json)
    # 1000 resamples, fewer on very large sets so a slider move stays fast
    n_boot = int(max(200, min(1000, 5_000_000 // max(fr.n_items, 1))))
    out = fr.outcome(list(thresholds))
    return bootstrap_interval(out.score, out.cost, n_boot=n_boot, seed=0)


def bootstrap_for(evalset_id: int, models, signal_spec: dict, thresholds) -> dict:
    return _bootstrap(str(default_path()), int(evalset_id), evalset_version(evalset_id),
                      tuple(models), json.dumps(signal_spec, sort_keys=True),
                      tuple(float(t) for t in thresholds))

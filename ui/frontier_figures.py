"""Plotly figures for the quality-cost frontier (Cascade tuner and Routing pages), and the share
of answers each model keeps as plain progress bars (drawn on every threshold move: no chart).

Trace names are stable (tests and the browser test look them up): "Operating points",
"Pareto front", "Single models", "Oracle", "Current point".
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.routing.router_metrics import pareto_front

MAX_CLOUD = 500  # points drawn in the grey cloud (the Pareto front is always drawn in full)
DOLLAR_TICKS = "$.2~g"  # log-axis ticks read $0.0001, not 100µ
CURRENT = "Current point"


def decimate(cost: np.ndarray, quality: np.ndarray, limit: int = MAX_CLOUD) -> np.ndarray:
    """Rows of at most ``limit`` points that keep the cloud's shape: one point per cell of a grid
    over (log cost, quality), the finest grid with at most ``limit`` occupied cells, so outliers
    and edges stay and dense areas thin out. All rows when there are ``limit`` or fewer.

    >>> cost = np.r_[np.full(90, 1e-3), np.full(10, 1e-2)]
    >>> quality = np.r_[np.full(90, .5), np.linspace(.1, .9, 10)]
    >>> rows = decimate(cost, quality, limit=12)
    >>> rows.tolist()  # the 90 identical points are one; the 10 spread ones all stay
    [0, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99]
    """
    n = len(cost)
    if n <= limit:
        return np.arange(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log10(np.where(np.asarray(cost, float) > 0, cost, np.nan))
    coords = np.nan_to_num(np.column_stack([x, quality]), nan=0.0)
    span = coords.max(axis=0) - coords.min(axis=0)
    scaled = (coords - coords.min(axis=0)) / np.where(span > 0, span, 1.0)

    def cells(side: int) -> np.ndarray:
        ix = np.minimum((scaled * side).astype(np.int64), side - 1)
        return ix[:, 0] * side + ix[:, 1]

    low, high = 1, limit  # the finest side whose occupied cells fit the limit (binary search)
    while low < high:
        side = (low + high + 1) // 2
        if np.count_nonzero(np.bincount(cells(side), minlength=side * side)) <= limit:
            low = side
        else:
            high = side - 1
    _, first = np.unique(cells(low), return_index=True)
    return np.sort(first)


def label_positions(x: pd.Series) -> list[str]:
    """Where each point's label goes: centred above it, except at the chart's left and right
    edges, where a centred label would be cut off: there it runs inwards.

    >>> label_positions(pd.Series([0.01, 0.001, 0.1, 0.05]))
    ['top center', 'top right', 'top left', 'top center']
    """
    values = x.to_numpy(float)
    positions = ["top center"] * len(values)
    if len(values) > 1 and np.isfinite(values).any():
        positions[int(np.nanargmin(values))] = "top right"
        positions[int(np.nanargmax(values))] = "top left"
    return positions


def frontier_figure(points: pd.DataFrame | None, singles: pd.DataFrame, oracle: dict | None,
                    current: dict | None, threshold_columns=(), title: str = "",
                    current_label: str = CURRENT, cloud_rows: np.ndarray | None = None) -> go.Figure:
    """Cost per item (x, log scale) vs quality (y).

    ``points``: operating points with ``cost_per_item``, ``quality``, ``pareto`` and threshold
    columns (None: no policy family, e.g. a routing table alone); ``singles``: model, quality,
    cost_per_item; ``current``: {"cost_per_item", "quality"} of the chosen point; ``cloud_rows``:
    the rows of ``points`` drawn in the grey cloud (default :func:`decimate`; a caller that draws
    one frontier many times computes them once).
    """
    fig = go.Figure()
    if points is not None and len(points):
        if cloud_rows is None:
            cloud_rows = decimate(points["cost_per_item"].to_numpy(float), points["quality"].to_numpy(float))
        cloud = points.iloc[cloud_rows]
        hover = "<br>".join(f"{c} = %{{customdata[{i}]:.3f}}" for i, c in enumerate(threshold_columns))
        # SVG, not WebGL: the chart is drawn anew on every threshold move, and a WebGL context
        # costs 0.5 s to set up in Chromium without a GPU (python -m bench.bench_slider)
        fig.add_trace(go.Scatter(
            x=cloud["cost_per_item"], y=cloud["quality"], mode="markers", name="Operating points",
            marker=dict(size=4, color="rgba(120,120,120,0.35)"),
            customdata=cloud[list(threshold_columns)].to_numpy() if threshold_columns else None,
            hovertemplate=f"${{x:.6f}}/item · quality %{{y:.3f}}<br>{hover}<extra></extra>"))
        front = points[points["pareto"]].sort_values("cost_per_item")
        fig.add_trace(go.Scatter(
            x=front["cost_per_item"], y=front["quality"], mode="lines+markers", name="Pareto front",
            line=dict(color="#1f77b4", width=2, shape="hv"), marker=dict(size=5),
            hovertemplate="Pareto: $%{x:.6f}/item · quality %{y:.3f}<extra></extra>"))
    # labels on the models of the Pareto front only (no overlapping names); the rest on hover
    front_models = pareto_front(singles["cost_per_item"].to_numpy(float), singles["quality"].to_numpy(float))
    fig.add_trace(go.Scatter(
        x=singles["cost_per_item"], y=singles["quality"], mode="markers+text", name="Single models",
        text=[m if on else "" for m, on in zip(singles["model"], front_models)],
        customdata=singles["model"], textposition=label_positions(singles["cost_per_item"]),
        textfont=dict(size=10),
        marker=dict(size=10, symbol="square", color="#2ca02c"),
        hovertemplate="%{customdata}: $%{x:.6f}/item · quality %{y:.3f}<extra></extra>"))
    if oracle and oracle.get("quality") is not None and np.isfinite(oracle.get("cost_per_item", np.nan)):
        fig.add_trace(go.Scatter(
            x=[oracle["cost_per_item"]], y=[oracle["quality"]], mode="markers+text", name="Oracle",
            text=["oracle"], textposition="bottom center",
            marker=dict(size=14, symbol="star", color="#ff7f0e"),
            hovertemplate="Oracle (knows the answers): $%{x:.6f}/item · quality %{y:.3f}<extra></extra>"))
    if current is not None:
        fig.add_trace(go.Scatter(
            x=[current["cost_per_item"]], y=[current["quality"]], mode="markers", name=current_label,
            marker=dict(size=18, symbol="diamond", color="#d62728", line=dict(width=2, color="white")),
            hovertemplate=f"{current_label}: $%{{x:.6f}}/item · quality %{{y:.3f}}<extra></extra>"))
    fig.update_layout(
        title=title or None, height=460, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(title="Cost per item (USD, log scale)", type="log", tickformat=DOLLAR_TICKS),
        yaxis=dict(title="Quality (mean score)"), legend=dict(orientation="h", y=-0.18),
        uirevision="frontier",  # keep the user's zoom while the current point moves
    )
    return fig


def reliability_figure(table: pd.DataFrame, label: str) -> go.Figure:
    """Reliability curve: each bin's mean signal (x) against its accuracy (y), sized by items,
    beside the diagonal of a perfectly calibrated signal."""
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="Perfectly calibrated",
                               line=dict(color="#999", dash="dash"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=table["mean_signal"], y=table["accuracy"], mode="lines+markers", name=label,
        marker=dict(size=6 + 14 * np.sqrt(table["items"] / max(table["items"].max(), 1))),
        customdata=table["items"], hovertemplate="signal %{x:.2f} · right %{y:.0%} · %{customdata:,.0f} items<extra></extra>"))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="Mean signal in the bin", range=[0, 1]),
                      yaxis=dict(title="Share right", range=[0, 1], tickformat=".0%"),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def share_figure(share: dict[str, float]) -> go.Figure:
    """Horizontal bars: share of answers kept from each model."""
    items = [(m, s) for m, s in share.items() if s > 0] or list(share.items())
    fig = go.Figure(go.Bar(x=[s for _, s in items], y=[m for m, _ in items], orientation="h",
                           text=[f"{s:.0%}" for _, s in items], textposition="auto",
                           marker_color="#1f77b4"))
    fig.update_layout(height=60 + 28 * len(items), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(range=[0, 1], tickformat=".0%", title="Share of answers kept"))
    return fig


def share_bars(share: dict[str, float]) -> None:
    """The share of answers kept from each model, one progress bar each (models keeping none are
    left out unless all do): cheap to redraw, unlike a chart."""
    items = [(m, s) for m, s in share.items() if s > 0] or list(share.items())
    st.caption("Share of answers kept")
    for model, part in items:
        st.progress(min(max(float(part), 0.0), 1.0), text=f"{model}: {part:.0%}")

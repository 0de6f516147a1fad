"""Plotly figures and display tables for the Compare models page (no Streamlit calls here).

>>> fig = quality_cost_figure(leaderboard(es), log_cost=True)        # doctest: +SKIP
>>> fig.layout.xaxis.type
'log'
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

DISPLAY_NAMES = {
    "model": "Model", "quality": "Quality", "ci": "95% interval", "scored": "Scored",
    "missing": "Missing", "accuracy": "Accuracy", "macro_f1": "Macro-F1",
    "cost_per_item": "$ / item", "cost_per_correct": "$ / correct", "latency_p50": "p50 ms",
    "latency_p95": "p95 ms", "latency_p99": "p99 ms", "mean_confidence": "Mean confidence",
}


def leaderboard_table(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard as shown: the interval as text, columns with no values at all dropped
    (the page states in words what is unknown)."""
    table = board.copy()
    table["ci"] = [
        "" if np.isnan(lo) else f"{lo:.3f} – {hi:.3f}"
        for lo, hi in zip(table["quality_low"].astype(float), table["quality_high"].astype(float))
    ]
    cols = [c for c in DISPLAY_NAMES if c in table]
    optional = ["accuracy", "macro_f1", "cost_per_item", "cost_per_correct", "latency_p50",
                "latency_p95", "latency_p99", "mean_confidence"]
    cols = [c for c in cols if c not in optional or table[c].notna().any()]
    return table[cols].rename(columns=DISPLAY_NAMES)


def pareto_mask(cost: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """True for points no other point beats (as cheap or cheaper and at least as good, one of
    them strictly).

    >>> pareto_mask(np.array([1.0, 2.0, 3.0, 2.0]), np.array([0.5, 0.7, 0.6, 0.7])).tolist()
    [True, True, False, True]
    """
    cost, quality = np.asarray(cost, float), np.asarray(quality, float)
    beaten = ((cost[None, :] <= cost[:, None]) & (quality[None, :] >= quality[:, None])
              & ((cost[None, :] < cost[:, None]) | (quality[None, :] > quality[:, None])))
    return ~beaten.any(axis=1)


def quality_cost_figure(board: pd.DataFrame, log_cost: bool = False) -> go.Figure:
    """Quality (with its 95% interval) against cost per item, one point per model. Only the
    Pareto front is labelled (labels of every model would overlap); the rest name themselves on
    hover."""
    data = board[board["cost_per_item"].notna() & board["quality"].notna()]
    front = pareto_mask(data["cost_per_item"].to_numpy(), data["quality"].to_numpy())
    fig = go.Figure(go.Scatter(
        x=data["cost_per_item"], y=data["quality"], mode="markers+text",
        text=np.where(front, data["model"].astype(str), ""), hovertext=data["model"],
        textposition="top center",
        marker={"size": 11, "color": np.where(front, "#1f77b4", "#9aa5b1")},
        error_y={"type": "data", "symmetric": False,
                 "array": (data["quality_high"] - data["quality"]).fillna(0),
                 "arrayminus": (data["quality"] - data["quality_low"]).fillna(0)},
        customdata=np.stack([data["quality_low"], data["quality_high"], data["scored"]], axis=1)
        if len(data) else None,
        hovertemplate="<b>%{hovertext}</b><br>quality %{y:.3f} (95%: %{customdata[0]:.3f}–"
                      "%{customdata[1]:.3f}, n=%{customdata[2]})<br>$%{x:,.6f} per item<extra></extra>",
    ))
    fig.update_layout(
        xaxis_title="cost per item (USD" + (", log scale)" if log_cost else ")"),
        yaxis_title="quality (mean score)", height=440, margin={"t": 30, "l": 10, "r": 10},
        showlegend=False,
    )
    fig.update_xaxes(tickformat="$,.2~g")  # dollars, no "100µ" SI suffixes
    if log_cost:
        fig.update_xaxes(type="log")
    return fig


def per_task_pivot(table: pd.DataFrame, value: str = "quality") -> pd.DataFrame:
    """task × model grid of one per-task value, tasks in order of appearance."""
    pivot = table.pivot(index="task", columns="model", values=value)
    order = list(pd.unique(table["task"]))
    models = list(pd.unique(table["model"]))
    return pivot.reindex(index=order, columns=models)


def per_task_heatmap(table: pd.DataFrame) -> go.Figure:
    """Quality by task (rows) and model (columns), each cell labelled with its value and n."""
    quality = per_task_pivot(table, "quality")
    counts = per_task_pivot(table, "n")
    text = np.where(quality.notna().to_numpy(),
                    [[f"{q:.2f}<br>n={int(n)}" if not np.isnan(q) else "" for q, n in zip(qr, nr)]
                     for qr, nr in zip(quality.to_numpy(dtype=float), counts.fillna(0).to_numpy())],
                    "")
    fig = go.Figure(go.Heatmap(
        z=quality.to_numpy(dtype=float), x=list(quality.columns), y=list(quality.index),
        text=text, texttemplate="%{text}", zmin=0, zmax=1, colorscale="Blues",
        colorbar={"title": "quality"},
        hovertemplate="task %{y}<br>%{x}<br>quality %{z:.3f}<extra></extra>",
    ))
    fig.update_layout(height=max(260, 60 + 48 * len(quality.index)),
                      margin={"t": 30, "l": 10, "r": 10}, yaxis={"autorange": "reversed"})
    return fig


def confusion_figure(labels: list[str], matrix: np.ndarray, model: str) -> go.Figure:
    """Counts of true label (rows) × predicted label (columns)."""
    fig = px.imshow(matrix, x=labels, y=labels, text_auto=True, color_continuous_scale="Blues",
                    labels={"x": f"predicted by {model}", "y": "true label", "color": "items"},
                    aspect="auto")
    fig.update_layout(height=max(320, 80 + 40 * len(labels)), margin={"t": 30, "l": 10, "r": 10})
    # labels such as "4" or "1" must stay categories, not become a numeric axis
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return fig

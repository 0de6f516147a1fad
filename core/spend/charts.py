"""Spend charts: plotly figures (pages, HTML report) and matplotlib PNGs (PDF report).

>>> fig = stacked_by_day(spend_by(ws, ["day", "model"]), "model")    # doctest: +SKIP
"""
from __future__ import annotations

import io
import re

import pandas as pd
import plotly.graph_objects as go


def _daily_pivot(frame: pd.DataFrame, dim: str) -> tuple[pd.DataFrame, pd.Index]:
    """Cost per day × ``dim`` value, and the values ordered by total spend (largest first)."""
    pivot = frame.pivot_table(index="day", columns=dim, values="cost_usd", aggfunc="sum",
                              fill_value=0.0).sort_index()
    return pivot, pivot.sum().sort_values(ascending=False).index


def _label(value) -> str:
    """A legend label without control characters (imported names can carry tabs or CRs)."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(value)).strip()


def stacked_by_day(frame: pd.DataFrame, dim: str, title: str | None = None) -> go.Figure:
    """Stacked bars of daily cost, one color per value of ``dim`` (model, task, provider).

    Ticks are whole days (a short range gets one tick per day, never ``23:59:59.9996``), the
    spend axis reads in dollars, and no spend at all is said in words instead of empty axes.

    >>> one = pd.DataFrame({"day": [pd.Timestamp("2026-03-01")], "model": ["m"], "cost_usd": [1234.5]})
    >>> fig = stacked_by_day(one, "model")
    >>> fig.layout.xaxis.tickvals, fig.layout.xaxis.tickformat, fig.layout.yaxis.tickformat
    (('2026-03-01',), '%b %d, %Y', '$,.2~f')
    >>> empty = stacked_by_day(one.iloc[:0], "model")
    >>> empty.layout.xaxis.visible, empty.layout.annotations[0].text
    (False, 'No spend in these dates')
    """
    fig = go.Figure()
    fig.update_layout(barmode="stack", title=title or f"Spend per day by {dim}",
                      yaxis_title="USD", xaxis_title=None, legend_title=dim, height=380,
                      margin=dict(l=40, r=10, t=50, b=30))
    if frame.empty:
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.add_annotation(text="No spend in these dates", showarrow=False, font=dict(size=14),
                           xref="paper", yref="paper", x=0.5, y=0.5)
        return fig
    pivot, order = _daily_pivot(frame, dim)
    for key in order:
        fig.add_bar(x=pivot.index, y=pivot[key], name=str(key),
                    hovertemplate="%{x|%Y-%m-%d}<br>" + str(key) + ": $%{y:,.4f}<extra></extra>")
    days = pd.to_datetime(pivot.index)
    fig.update_xaxes(type="date", tickformat="%b %d, %Y")
    if days.max() - days.min() <= pd.Timedelta(days=14):  # plotly would tick hours: one per day
        span = pd.date_range(days.min(), days.max(), freq="D")
        fig.update_xaxes(tickmode="array", tickvals=[d.strftime("%Y-%m-%d") for d in span],
                         range=[span[0] - pd.Timedelta(hours=12), span[-1] + pd.Timedelta(hours=12)])
    fig.update_yaxes(tickformat="$,.2~f", rangemode="tozero")
    return fig


def share_bar(frame: pd.DataFrame, label: str, value: str, title: str, fmt: str = ".1%") -> go.Figure:
    """Horizontal bars, largest on top (traffic share, cost per task...)."""
    data = frame.sort_values(value, ascending=True)
    fig = go.Figure(go.Bar(x=data[value], y=data[label].astype(str), orientation="h",
                           texttemplate="%{x:" + fmt + "}", textposition="auto"))
    fig.update_layout(title=title, height=max(240, 40 + 28 * len(data)),
                      margin=dict(l=10, r=10, t=50, b=30))
    return fig


def png_stacked_by_day(frame: pd.DataFrame, dim: str, title: str) -> bytes:
    """The same daily stacked bars as a PNG (matplotlib, no browser), for the PDF report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=110)
    if not frame.empty:
        pivot, order = _daily_pivot(frame, dim)
        bottom = None
        labels = [d.strftime("%m-%d") for d in pd.to_datetime(pivot.index)]
        for key in order:
            ax.bar(labels, pivot[key].to_numpy(), bottom=bottom, label=_label(key)[:28])
            bottom = pivot[key].to_numpy() if bottom is None else bottom + pivot[key].to_numpy()
        ax.legend(fontsize=7, loc="upper left", ncol=2)
        if len(labels) > 14:
            for i, tick in enumerate(ax.get_xticklabels()):
                tick.set_visible(i % max(1, len(labels) // 14) == 0)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("USD")
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()

"""Small helpers for page tests driven by streamlit.testing.v1.AppTest."""
from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from core.evaluation.store import save_evalset
from core.workspace import open_workspace


def run_clean(at: AppTest) -> AppTest:
    """Run the page and fail on any exception it raised."""
    at.run()
    assert not at.exception, at.exception
    return at


def table_with(at: AppTest, column: str):
    """The first table showing ``column`` (AppTest does not expose dataframe keys)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def store(workspace_path, evalset) -> int:
    ws = open_workspace(workspace_path)
    try:
        return save_evalset(ws, evalset, name=evalset.name)
    finally:
        ws.close()


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def deltas(at) -> dict[str, tuple[str, str, str]]:
    """label -> (delta text, arrow, colour) as the browser draws them, e.g. ('-$8.10', 'DOWN', 'GREEN')."""
    from streamlit.proto.Metric_pb2 import Metric

    return {m.label: (m.proto.delta, Metric.MetricDirection.Name(m.proto.direction),
                      Metric.MetricColor.Name(m.proto.color)) for m in at.metric}


def current_point(at) -> tuple[float, float]:
    chart = next(c for c in at.get("plotly_chart") if "Current point" in c.proto.spec)
    trace = next(t for t in json.loads(chart.proto.spec)["data"] if t.get("name") == "Current point")
    return trace["x"][0], trace["y"][0]

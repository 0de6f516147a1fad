"""Charts and numbers a PM reads at a glance (issue 13, item 18): whole-day ticks, no empty
axes, labels only on the Pareto front, no -0.000, human PDF headings, no None price cells, a
narrow disagreement table sorted by spread."""
from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest

from core.experiments.guardrails import decide
from core.exports import signed_text
from core.spend.charts import stacked_by_day
from core.spend.ledger import record_calls
from core.spend.reports import pdf_cell, report_bytes
from ui.compare_figures import pareto_mask, quality_cost_figure
from ui.compare_widgets import disagreement_view
from ui.prices_view import price_cells


def _days(*days):
    return pd.DataFrame({"day": pd.to_datetime(list(days)), "model": ["m"] * len(days),
                         "cost_usd": [1234.5] * len(days)})


def test_one_day_chart_ticks_that_day_only_and_no_spend_says_so():
    fig = stacked_by_day(_days("2026-03-01"), "model")
    assert fig.layout.xaxis.tickvals == ("2026-03-01",)  # not 23:59:59.9996 hour ticks
    assert fig.layout.yaxis.tickformat == "$,.2~f"  # $1,234.5
    week = stacked_by_day(_days("2026-03-01", "2026-03-03"), "model")
    assert week.layout.xaxis.tickvals == ("2026-03-01", "2026-03-02", "2026-03-03")
    empty = stacked_by_day(_days().iloc[:0], "model")
    assert empty.layout.xaxis.visible is False and empty.layout.yaxis.visible is False
    assert empty.layout.annotations[0].text == "No spend in these dates"


def test_only_the_pareto_front_is_labelled():
    # c is beaten by b (cheaper and better); d ties b's quality at a higher cost
    assert pareto_mask(np.array([1.0, 2.0, 3.0, 2.5]), np.array([0.5, 0.8, 0.7, 0.8])).tolist() == \
        [True, True, False, False]
    board = pd.DataFrame({"model": ["a", "b", "c", "d"], "cost_per_item": [1.0, 2.0, 3.0, 2.5],
                          "quality": [0.5, 0.8, 0.7, 0.8], "quality_low": [0.4] * 4,
                          "quality_high": [0.9] * 4, "scored": [10] * 4})
    trace = quality_cost_figure(board, log_cost=True).data[0]
    assert list(trace.text) == ["a", "b", "", ""]
    assert list(trace.hovertext) == ["a", "b", "c", "d"]  # the rest name themselves on hover


def test_no_sign_on_a_zero_difference():
    assert [signed_text(v) for v in (-0.0, -0.0004, 0.0004, -0.0126, 0.5)] == \
        ["0.000", "0.000", "0.000", "-0.013", "+0.500"]
    from core.evaluation.stats import Comparison

    quality = Comparison("quality", 0.8, 0.8, diff=-0.0, low=-0.0001, high=0.0002, p_value=1.0,
                         test="paired t", n_control=100, n_candidate=100)
    cost = Comparison("cost", 0.001, 0.001, diff=-0.0000001, low=-0.0000002, high=0.0000001,
                      p_value=1.0, test="t", n_control=100, n_candidate=100)
    text = decide(quality, cost, [], tolerance=0.02, enough_data=True).reason
    assert "-0.000" not in text and "quality 0.000 (95% CI 0.000 to 0.000" in text


def test_pdf_report_has_human_headings_and_formatted_cells(ws):
    assert (pdf_cell("cost_usd", 1234.5), pdf_cell("request_share", 0.25),
            pdf_cell("cost_per_1k_requests", 0.4497)) == ("$1,234.50", "25.0%", "$0.4497")
    record_calls(ws, pd.DataFrame({"call_id": ["a", "b"], "ts": [pd.Timestamp("2026-03-01 10:00")] * 2,
                                   "model": ["big", "small"], "cost_usd": [1500.0, 0.25]}))
    pdf = report_bytes(ws, "2026-03-01", "2026-03-01", "pdf")
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()
    assert "Per 1,000 requests" in text and "Share of requests" in text
    assert "cost_per_1k_requests" not in text and "request_share" not in text
    assert "$1,500.00" in text and "99.9%" not in text and "50.0%" in text  # 1 of 2 requests


def test_price_cells_never_none():
    frame = pd.DataFrame({"model": ["m"], "cached_read_per_mtok": [np.nan],
                          "cached_write_per_mtok": [3.75], "note": [None]})
    assert price_cells(frame).values.tolist() == [["m", "—", "3.75", ""]]


def test_disagreements_narrow_and_widest_spread_first():
    table = pd.DataFrame({"item_id": ["1", "2", "3"], "input": ["long"] * 3,
                          "a answer": ["x", "y", "z"], "a score": [0.5, 1.0, np.nan],
                          "b answer": ["p", "q", "r"], "b score": [0.25, 0.0, 1.0]})
    view = disagreement_view(table, ["a", "b"])
    assert list(view.columns) == ["item_id", "spread", "a", "b"]
    assert view["item_id"].tolist() == ["2", "1", "3"]
    assert view["spread"].tolist()[:2] == [1.0, 0.25] and view["spread"].iloc[2] == pytest.approx(0.0)

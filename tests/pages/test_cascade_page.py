"""Cascade tuner page (AppTest): sliders move the metrics and the chart's current point.

Numbers come from the hand-computed frontier in tests/test_frontier.py (small -> big on small's
confidence): threshold .5 -> quality .75 at $.0035; .3 -> .5 at $.001; 1.01 -> .75 at $.011.
"""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.evaluation.loading import load_csv
from core.settings import REPO_ROOT as ROOT
from core.workspace import open_workspace
from tests.helpers.apptest import current_point, deltas, metrics, store
from tests.helpers.routing import tiny_csv

PAGE = str(ROOT / "app_pages" / "cascade.py")


@pytest.fixture
def tiny_page(workspace_path):
    store(workspace_path, load_csv(tiny_csv(), name="tiny.csv"))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_slider_moves_metrics_and_current_point(tiny_page):
    at = tiny_page
    assert [s.value for s in at.slider] == [0.5]  # cheapest point within 1 point of big
    assert metrics(at)["Quality"] == "0.750"
    assert metrics(at)["Cost per item"] == "$0.003500"
    assert metrics(at)["Escalation rate"] == "25.0%"
    assert current_point(at) == pytest.approx((0.0035, 0.75))

    at.slider[0].set_value(0.3).run()
    assert metrics(at)["Quality"] == "0.500"
    assert metrics(at)["Cost per item"] == "$0.001000"
    assert metrics(at)["Escalation rate"] == "0.0%"
    assert current_point(at) == pytest.approx((0.001, 0.5))

    at.slider[0].set_value(1.01).run()
    assert metrics(at)["Cost per item"] == "$0.011000"
    assert metrics(at)["Escalation rate"] == "100.0%"
    assert metrics(at)["Savings vs all-strong"] == "-10.0%"  # pays small on every item too
    # projection at the default 10,000 requests/day: $110/day
    assert metrics(at)["Per day"] == "$110.00"


def test_projection_shows_a_saving_as_a_green_fall_and_a_loss_as_a_red_rise(tiny_page):
    at = tiny_page  # threshold .5: $.0035 per item against big alone at $.010
    # at 10,000 requests a day: $35.00 against $100.00, a saving of $65.00 a day
    assert metrics(at)["Per day"] == "$35.00"
    assert deltas(at)["Per day"] == ("-$65.00", "DOWN", "GREEN")
    assert deltas(at)["Per month"] == ("-$1,977.08", "DOWN", "GREEN")  # 65 x 365 / 12
    assert deltas(at)["Per year"] == ("-$23,725.00", "DOWN", "GREEN")  # 65 x 365
    at.slider[0].set_value(1.01).run()  # every item pays small and big: $110 against $100
    assert deltas(at)["Per day"] == ("+$10.00", "UP", "RED")
    # the other cost deltas on the page read the same way: cheaper is down and green
    assert deltas(at)["Cost per item"][1:] == ("UP", "RED")


def test_a_difference_that_rounds_to_zero_is_no_gain_and_no_loss(tiny_page):
    """At threshold .5 the cascade's quality equals big's (.750): the delta read '+0.000 vs big'
    with a green up arrow, a gain that is not there. Differences that show as zero are grey."""
    at = tiny_page
    assert deltas(at)["Quality"] == ("same quality as big", "NONE", "GRAY")
    assert deltas(at)["Cost per item"] == ("-65.0% vs big", "DOWN", "GREEN")
    at.slider[0].set_value(0.3).run()  # quality .5 against big's .75
    assert deltas(at)["Quality"] == ("-0.250 vs big", "DOWN", "RED")


def test_sla_panel_finds_and_applies_thresholds(tiny_page):
    at = tiny_page
    at.slider[0].set_value(0.3).run()
    at.number_input(key="sla_min_quality").set_value(0.75).run()
    assert "miss at least one target" in " ".join(m.value for m in at.markdown)
    assert any("Thresholds 0.500" in s.value for s in at.success)
    at.button(key="sla_apply").click().run()
    assert at.slider[0].value == 0.5
    assert metrics(at)["Quality"] == "0.750"
    assert "meet every target" in " ".join(m.value for m in at.markdown)


def test_three_model_cascade_gets_one_slider_per_step(tiny_page):
    at = tiny_page
    at.multiselect[0].set_value(["small", "mid", "big"]).run()
    assert len(at.slider) == 2
    at.slider[0].set_value(0.55).run()
    at.slider[1].set_value(0.5).run()
    # tests/test_policies.py: quality .5, cost (.001 + .001 + .015 + .005) / 4
    assert metrics(at)["Quality"] == "0.500"
    assert metrics(at)["Cost per item"] == "$0.005500"


def test_save_to_workspace_round_trips_the_cascade(tiny_page, workspace_path):
    store_mod = pytest.importorskip("core.routing.optimize.store")
    at = tiny_page
    assert at.get("download_button")
    assert "small > big" in at.text_input(key="cascade_policy_name").value
    at.text_input(key="cascade_policy_name").set_value("cheap first").run()
    at.button(key="cascade_save").click().run()
    assert any("Saved 'cheap first'" in s.value for s in at.success)
    ws = open_workspace(workspace_path)
    try:
        saved = store_mod.list_policies(ws)
        policy, _meta = store_mod.load_policy(ws, int(saved["id"].iloc[0]))
    finally:
        ws.close()
    assert list(saved["name"]) == ["cheap first"]
    assert policy.to_dict()["thresholds"] == [0.5] and policy.to_dict()["models"] == ["small", "big"]


def test_routerbench_needs_agreement_and_says_why(workspace_path, routerbench_test):
    store(workspace_path, load_csv(routerbench_test))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception
    assert at.radio(key="cascade_signal_1").value == "agreement"  # no confidence in the file
    quality = metrics(at)["Quality"]
    at.radio(key="cascade_signal_1").set_value("confidence").run()
    assert any("reports no confidence" in e.value for e in at.error)
    at.radio(key="cascade_signal_1").set_value("agreement").run()
    assert not at.error and metrics(at)["Quality"] == quality
    assert metrics(at)["p50 latency"] == "n/a"


def test_recommend_panel_reports_held_out_figures(tiny_page):
    pytest.importorskip("core.routing.optimize.search")
    at = tiny_page
    at.button(key="cascade_recommend").click().run()
    assert not at.exception and not at.error
    text = " ".join(m.value for m in at.markdown)
    assert "held-out quality" in text and "cross-validation" in text


def test_the_goal_is_a_form_and_a_recommendation_applies_to_the_sliders(workspace_path):
    from tests.helpers.learned import confidence_evalset

    store(workspace_path, confidence_evalset(200))
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    assert [t.key for t in at.text_input] == ["cascade_policy_name"]  # no goal syntax to type
    audit = next(d.value for d in at.dataframe if "ECE" in d.value.columns)
    # small's confidence: right when >= 0.5, so the 10 bins are near 0% or 100% right
    assert audit.loc[0, "model"] == "small" and audit.loc[0, "AUC"] == 1.0
    at.selectbox(key="cascade_goal_kind").set_value("match").run()
    assert at.selectbox(key="cascade_goal_model").value == "big"
    at.button(key="cascade_recommend").click().run()
    assert not at.exception and not at.error
    text = " ".join(m.value for m in at.markdown)
    assert "quality of big within 0.01" in text and "[95% " in text
    from core.routing.policies.mix import main_part

    at.slider[0].set_value(1.01).run()  # move away, then apply
    recommended = main_part(at.session_state["cascade_rec"][1].policy).thresholds[0]
    at.button(key="cascade_rec_apply").click().run()
    assert at.slider[0].value == pytest.approx(recommended)
    # the recommended cut sits near the one between small's unsure (< 0.45) and sure (> 0.55)
    assert 0.4 <= recommended <= 0.6 and float(metrics(at)["Quality"]) >= 0.97

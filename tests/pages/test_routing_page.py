"""Routing page (AppTest): edit the task table or value tiers, see metrics and per-task cost.

Hand numbers from tests/test_policies.py: billing -> small, legal -> big gives quality .5 at
$.0055/item; tiers (0 small, 100 mid, 1000 big) give .5 at $.004/item.
"""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.evaluation.loading import load_csv
from core.settings import REPO_ROOT as ROOT
from tests.helpers.apptest import metrics, store
from tests.helpers.routing import tiny_csv

PAGE = str(ROOT / "app_pages" / "routing.py")


@pytest.fixture
def page(workspace_path):
    es_id = store(workspace_path, load_csv(tiny_csv(), name="tiny.csv"))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at, es_id


def edit(at, key, rows: dict, added=()):
    at.session_state[key] = {"edited_rows": rows, "added_rows": list(added), "deleted_rows": []}
    at.run()
    assert not at.exception, at.exception


def test_edit_task_table_changes_metrics_and_task_costs(page):
    at, es_id = page
    # table rows are tasks by item count (2 each: billing first, as seen first)
    tasks = list(at.dataframe[0].value["task"])
    rows = {tasks.index("billing"): {"model": "small"}, tasks.index("legal"): {"model": "big"}}
    edit(at, f"routing_table_{es_id}", rows)
    assert metrics(at)["Quality"] == "0.500"
    assert metrics(at)["Cost per item"] == "$0.005500"
    breakdown = next(d.value for d in at.dataframe if "year" in d.value.columns)
    day = dict(zip(breakdown["task"], breakdown["day"]))
    # default mix: 10 requests/day per eval item -> 20/day per task
    assert day["billing"] == pytest.approx(20 * 0.001)
    assert day["legal"] == pytest.approx(20 * 0.010)
    assert day["total"] == pytest.approx(0.22)

    mix = next(i for i, d in enumerate(at.dataframe) if "requests_per_day" in d.value.columns)
    mix_tasks = list(at.dataframe[mix].value["task"])
    edit(at, f"routing_mix_{es_id}", {mix_tasks.index("legal"): {"requests_per_day": 1000}})
    breakdown = next(d.value for d in at.dataframe if "year" in d.value.columns)
    assert dict(zip(breakdown["task"], breakdown["month"]))["legal"] == pytest.approx(10 * 365 / 12)


def test_value_tiers(page):
    at, es_id = page
    at.radio(key="routing_mode").set_value("Value tiers").run()
    assert at.selectbox(key=f"routing_value_col_{es_id}").value == "value_usd"
    edit(at, f"routing_tiers_{es_id}",
         {0: {"min_value": 0.0, "model": "small"}, 1: {"min_value": 100.0, "model": "mid"}},
         added=[{"min_value": 1000.0, "model": "big"}])
    assert metrics(at)["Quality"] == "0.500"
    assert metrics(at)["Cost per item"] == "$0.004000"
    assert not at.error
    if at.get("button") and any(b.key == "routing_save" for b in at.button):
        at.button(key="routing_save").click().run()
        assert any("Saved 'value tiers'" in s.value for s in at.success), ([e.value for e in at.error], [e.value for e in at.exception], [s.value for s in at.success])


def test_a_task_entry_can_be_a_cascade_with_its_own_threshold(page):
    """Legal straight to big; billing cascades small -> big at 0.85 on self-reported confidence:
    i1 keeps small (.9, $.001), i2 escalates (.6, $.011), legal $.010 each: quality .75 (i4 is
    wrong on big), $.008/item (test_hybrid.py works the same case)."""
    at, es_id = page
    tasks = list(at.dataframe[0].value["task"])
    rows = {tasks.index("billing"): {"model": "small", "cascade_to": "big", "threshold": 0.85},
            tasks.index("legal"): {"model": "big"}}
    edit(at, f"routing_table_{es_id}", rows)
    assert metrics(at)["Quality"] == "0.750"
    assert metrics(at)["Cost per item"] == "$0.008000"
    breakdown = next(d.value for d in at.dataframe if "year" in d.value.columns)
    day = dict(zip(breakdown["task"], breakdown["day"]))
    assert day["billing"] == pytest.approx(20 * (0.001 + 0.011) / 2)  # 20 requests/day per task
    # a cascade with no threshold is named, by task and column
    edit(at, f"routing_table_{es_id}", {tasks.index("billing"): {"model": "small", "cascade_to": "big",
                                                                 "threshold": None}})
    assert any("billing" in e.value and "threshold" in e.value for e in at.error), [e.value for e in at.error]

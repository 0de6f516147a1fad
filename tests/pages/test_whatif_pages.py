"""The what-if block of the Cascade tuner and the Cost Efficiency Score on Compare (AppTest).

The eval set of tests/unit/test_whatif.py: one task 'faq', two items, gpt-4o-mini then
claude-sonnet-4-5, 5,000 input tokens (a 4,999-token template), 100 output tokens. At 288
requests a day and the 5-minute TTL, P(hit) = 1 - 1/e for each model.
"""
from __future__ import annotations

import math

import pytest
from streamlit.testing.v1 import AppTest

from core.routing.optimize.store import save_policy
from core.routing.policies import SingleModel
from core.routing.task_settings import delay_tolerant_tasks
from core.settings import REPO_ROOT as ROOT
from core.workspace import open_workspace
from tests.helpers.apptest import metrics, store, table_with
from tests.unit.test_whatif import evalset, two_items

H = 1 - math.exp(-1)
MINI = (5000 * 0.15 + 100 * 0.6) / 1e6                                   # $0.00081
SONNET = (5000 * 3 + 100 * 15) / 1e6                                     # $0.0165
MINI_CACHED = (1 * 0.15 + 4999 * (H * 0.075 + (1 - H) * 0.15) + 100 * 0.6) / 1e6
SONNET_CACHED = (1 * 3 + 4999 * (H * 0.30 + (1 - H) * 3.75) + 100 * 15) / 1e6
MINI_BATCH = (5000 * 0.075 + 100 * 0.3) / 1e6                            # $0.000405
SONNET_BATCH = (5000 * 1.5 + 100 * 7.5) / 1e6                            # $0.00825
# batch + cache: OpenAI's batch price keeps the $0.075 cached rate = its batch input rate
MINI_BOTH = MINI_BATCH
SONNET_BOTH = (1 * 1.5 + 4999 * (H * 0.15 + (1 - H) * 1.875) + 100 * 7.5) / 1e6


@pytest.fixture
def tuner(workspace_path):
    store(workspace_path, evalset(two_items()))
    at = AppTest.from_file(str(ROOT / "app_pages" / "cascade.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    at.slider[0].set_value(1.01)  # every item calls both models
    at.number_input(key="cascade_volume").set_value(288.0).run()
    assert not at.exception, at.exception
    return at


def test_cache_and_batch_toggles_move_the_plan_by_hand_computed_amounts(tuner, workspace_path):
    at = tuner
    assert metrics(at)["Cost per item"] == f"${MINI + SONNET:.6f}"          # $0.017310
    assert metrics(at)["Plan cost per item"] == f"${MINI + SONNET:.6f}"     # the route alone

    at.toggle(key="whatif_cache").set_value(True).run()
    assert metrics(at)["Plan cost per item"] == f"${MINI_CACHED + SONNET_CACHED:.6f}"
    assert metrics(at)["Plan per day"] == f"${(MINI_CACHED + SONNET_CACHED) * 288:,.2f}"

    at.toggle(key="whatif_batch").set_value(True).run()  # no task flagged yet: nothing batched
    assert metrics(at)["Plan cost per item"] == f"${MINI_CACHED + SONNET_CACHED:.6f}"
    assert any("No task is flagged" in i.value for i in at.info)

    flags = next(m for m in at.multiselect if m.key.startswith("whatif_tasks"))
    flags.set_value(["faq"]).run()
    assert not at.exception, at.exception
    assert metrics(at)["Plan cost per item"] == f"${MINI_BOTH + SONNET_BOTH:.6f}"
    at.toggle(key="whatif_cache").set_value(False).run()
    assert metrics(at)["Plan cost per item"] == f"${MINI_BATCH + SONNET_BATCH:.6f}"  # $0.008655
    tasks = table_with(at, "latency_with_batch")
    assert tasks["latency_with_batch"].tolist() == ["up to 24 h"]
    ws = open_workspace(workspace_path)
    assert delay_tolerant_tasks(ws) == {"faq"}  # saved in the workspace


def test_compare_ranks_models_and_saved_policies_by_cost_efficiency(workspace_path):
    es = evalset(two_items())
    store(workspace_path, es)
    save_policy(open_workspace(workspace_path), "sonnet only", SingleModel("claude-sonnet-4-5"))
    at = AppTest.from_file(str(ROOT / "app_pages" / "compare.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert any("Cost Efficiency Score =" in m.value for m in at.markdown)
    board = table_with(at, "ces")
    assert board["name"].tolist() == ["gpt-4o-mini", "claude-sonnet-4-5", "sonnet only (#1)"]
    assert board["kind"].tolist() == ["model", "model", "policy"]
    # quality 1 on both items; no latency recorded: no penalty, and the note says so
    assert board["ces"].tolist() == pytest.approx([1 / MINI, 1 / SONNET, 1 / SONNET])
    assert board["rank"].tolist() == [1, 2, 3]
    assert set(board["note"]) == {"no latency recorded: no penalty"}

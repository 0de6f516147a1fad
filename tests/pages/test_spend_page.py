"""The Spend page, driven headlessly: import widget, metrics, filters, tabs, reports, projections."""
from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.settings import REPO_ROOT
from core.spend.ledger import record_calls
from core.workspace import open_workspace
from tests.helpers.apptest import deltas
from tests.helpers.apptest import run_clean as _run
from tests.helpers.apptest import table_with as _table

PAGE = str(REPO_ROOT / "app_pages" / "spend.py")
DATA = REPO_ROOT / "tests" / "data" / "ledger"


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


@pytest.fixture
def seeded(workspace_path):
    from tests.helpers.ledger import COLS, ROWS

    ws = open_workspace(workspace_path)
    frame = pd.DataFrame(ROWS, columns=COLS)
    frame["requests"] = frame["requests"].astype("Int64")
    record_calls(ws, frame)
    return ws


def test_empty_ledger_then_import_a_litellm_file(workspace_path):
    at = _run(AppTest.from_file(PAGE, default_timeout=90))
    at.button(key="spend_demo_remove").click()  # a first visit opens on the demo ledger
    _run(at)
    assert any("ledger is empty" in i.value for i in at.info)
    at.selectbox(key="spend_import_format").set_value("litellm")
    at.file_uploader(key="spend_import_file").set_value(
        ("spendlogs.csv", (DATA / "litellm_spendlogs.csv").read_bytes(), "text/csv"))
    _run(at)
    at.button(key="spend_import_button").click()
    _run(at)
    assert any("3 added" in w.value and "row 4" in w.value for w in at.warning)
    assert _table(at, "expected")["column"].tolist() == ["cost_usd"]
    at.date_input(key="spend_from").set_value(pd.Timestamp("2026-03-01").date())
    _run(at)
    assert _metric(at, "Spend") == "$0.0014"  # 0.00123 + 0.000214 + 0 (cache hit)
    assert _metric(at, "Requests") == "3"
    assert _metric(at, "Cache hit rate") == "33.3%"


def test_metrics_filters_and_tables(seeded):
    at = _run(AppTest.from_file(PAGE, default_timeout=90))
    assert _metric(at, "Spend") == "$0.0890"
    assert _metric(at, "Requests") == "7"
    assert _metric(at, "Per 1,000 requests") == "$12.57"
    assert _metric(at, "Cache savings") == "$0.0020"
    assert _metric(at, "Shadow (kept apart)") == "$0.0400"
    assert _table(at, "call_id")["call_id"].iloc[0] == "d"
    tasks = _table(at, "cost_per_request").set_index("task")
    assert tasks.loc["leads", "cost_per_1k_requests"] == pytest.approx(14.0)
    at.selectbox(key="spend_scope").set_value("shadow")
    _run(at)
    assert _metric(at, "Spend") == "$0.0400"
    at.selectbox(key="spend_scope").set_value("production")
    at.multiselect(key="spend_tags").set_value(["ab"])
    _run(at)
    assert _metric(at, "Spend") == "$0.0500"
    at.multiselect(key="spend_tags").set_value([])
    at.date_input(key="spend_from").set_value(pd.Timestamp("2026-03-02").date())
    at.date_input(key="spend_to").set_value(pd.Timestamp("2026-03-02").date())
    _run(at)
    assert _metric(at, "Spend") == "$0.0560"
    at.date_input(key="spend_to").set_value(pd.Timestamp("2026-03-01").date())
    _run(at)
    assert any("before it starts" in e.value for e in at.error)


def test_projections_panel(seeded):
    at = _run(AppTest.from_file(PAGE, default_timeout=90))
    table = _table(at, "savings_daily")
    assert table["task"].iloc[-1] == "Total"
    total = table.iloc[-1]
    assert total["savings_daily"] == pytest.approx(total["baseline_daily"] - total["current_daily"])
    volume = next(n for n in at.number_input if str(n.key).startswith("spend_volume_"))
    before = total["current_daily"]
    volume.set_value(0.0)
    _run(at)
    assert _table(at, "savings_daily").iloc[-1]["current_daily"] < before


def test_unknown_costs_and_the_billable_split(workspace_path):
    ws = open_workspace(workspace_path)
    ts = pd.Timestamp("2026-03-01 10:00")
    record_calls(ws, pd.DataFrame({
        "call_id": ["known", "unpriced", "batch", "shadow", "replay"], "ts": [ts] * 5,
        "model": ["m", "mystery", "m", "m", "m"], "cost_usd": [0.5, None, 0.25, 1.0, 2.0],
        "source": ["live", "live", "import", "shadow", "simulation"],
        "service_tier": [None, None, "batch", None, None]}))
    at = _run(AppTest.from_file(PAGE, default_timeout=90))
    # production: $0.50 + $0.25 and one row whose cost is unknown (never shown as $0)
    assert _metric(at, "Spend") == "$0.7500"
    assert deltas(at)["Spend"] == ("+ unknown (1 row)", "NONE", "ORANGE")
    assert any("1 ledger row has an unknown cost" in w.value for w in at.warning)
    assert _metric(at, "Billable (every real dollar)") == "$1.75"  # + the shadow call
    assert deltas(at)["Billable (every real dollar)"][0] == "+ unknown (1 row)"
    assert _metric(at, "Shadow (kept apart)") == "$1.00"
    assert _metric(at, "Simulated (never billed)") == "$2.00"
    assert _metric(at, "Batch (at the batch price)") == "$0.2500"
    tiers = _table(at, "service_tier").set_index("service_tier")
    assert tiers.loc["batch", "cost_usd"] == "$0.2500"  # a column with an unknown cost is text
    assert tiers.loc["standard", "cost_usd"] == "$0.5000 + unknown"
    assert tiers.loc["standard", "unknown_cost_rows"] == 1
    models = _table(at, "request_share").set_index("model")
    assert models.loc["mystery", "cost_usd"] == "unknown"  # never None, never $0

"""Money in tables reads with thousands separators (issue 13 item 18): every money column of a
table goes through ui.tables.money_column, whose printf format has Streamlit's ',' flag."""
from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from core.evaluation.loading import load_csv
from core.settings import REPO_ROOT
from tests.helpers.apptest import store
from tests.helpers.routing import tiny_csv
from ui.tables import money_column

PAGE = str(REPO_ROOT / "app_pages" / "compare.py")


def column_formats(element) -> dict[str, str]:
    """column -> its number format, as the browser receives it (the Arrow element's config)."""
    config = json.loads(element.proto.columns or "{}")
    return {name: c.get("type_config", {}).get("format") for name, c in config.items()}


def test_money_column_formats_dollars_with_separators():
    assert money_column(decimals=2)["type_config"]["format"] == "$%,.2f"  # $12,345.68
    assert money_column("spent", 6)["label"] == "spent"
    assert money_column("spent", 6)["type_config"]["format"] == "$%,.6f"


def test_compare_leaderboard_money_columns_have_separators(workspace_path):
    store(workspace_path, load_csv(tiny_csv(), name="tiny.csv"))
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.session_state["_sample_checked"] = True
    at.run()
    assert not at.exception, at.exception
    formats = column_formats(at.dataframe[0])  # the leaderboard
    assert formats["$ / item"] == "$%,.6f" and formats["$ / correct"] == "$%,.6f"
    assert formats["Quality"] == "%.3f"  # not money: unchanged

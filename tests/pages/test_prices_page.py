"""The Prices page, driven headlessly: catalog table, an edit that changes the catalog, calculator."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.pricing.edits import catalog_for
from core.settings import REPO_ROOT
from core.workspace import open_workspace

PAGE = str(REPO_ROOT / "app_pages" / "prices.py")


def price_for(workspace_path, model):
    """The price the workspace's catalog gives ``model`` (what every page and run uses)."""
    return catalog_for(open_workspace(workspace_path)).price_for(model)


def _page(workspace_path) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


def _table(at):
    return at.dataframe[0].value


def test_page_lists_catalog_with_source_and_date(workspace_path):
    at = _page(workspace_path)
    table = _table(at)
    assert {"model", "provider", "source", "snapshot_date", "layer"} <= set(table.columns)
    assert {"anthropic", "openai", "google", "local"} <= set(table["provider"])
    assert any("genai-prices" in c.value for c in at.caption)
    at.text_input(key="price_search").set_value("llama-3.1-8b").run()
    rows = _table(at)
    assert rows["model"].tolist() == ["local:llama-3.1-8b"] and rows["estimate"].all()


def test_editing_a_price_changes_the_catalog_row(workspace_path):
    at = _page(workspace_path)
    at.text_input(key="price_edit_model").set_value("gpt-4o-mini").run()
    assert at.number_input(key="pe_in_gpt-4o-mini").value == pytest.approx(0.15)  # prefilled
    at.number_input(key="pe_in_gpt-4o-mini").set_value(0.5).run()
    at.number_input(key="pe_out_gpt-4o-mini").set_value(2.0).run()
    at.button(key="price_save").click().run()
    assert not at.exception and not at.error
    assert any("Saved: gpt-4o-mini" in s.value for s in at.success)

    at.text_input(key="price_search").set_value("gpt-4o-mini").run()
    row = _table(at).query("model == 'gpt-4o-mini'").iloc[0]
    assert (row.layer, row.input_per_mtok, row.output_per_mtok) == ("workspace edit", 0.5, 2.0)
    # The genai-prices row it replaces is hidden, and the workspace's catalog has the new price.
    assert price_for(workspace_path, "openai:gpt-4o-mini").input_per_mtok == 0.5

    at.text_input(key="calc_model").set_value("gpt-4o-mini").run()
    at.number_input(key="calc_in").set_value(1_000_000).run()
    at.number_input(key="calc_out").set_value(1_000_000).run()
    assert at.metric[0].value == "$2.500000"

    at.selectbox(key="price_delete_model").set_value("gpt-4o-mini")
    at.button(key="price_delete").click().run()
    assert not at.exception
    assert price_for(workspace_path, "gpt-4o-mini").input_per_mtok == pytest.approx(0.15)
    assert "workspace edit" not in set(catalog_for(open_workspace(workspace_path)).frame()["layer"])


def test_bad_tiers_show_an_error_and_store_nothing(workspace_path):
    at = _page(workspace_path)
    at.text_input(key="price_edit_model").set_value("acme:custom").run()
    at.number_input(key="pe_in_acme:custom").set_value(1.0).run()
    at.text_input(key="pe_tiers_acme:custom").set_value("[{broken").run()
    at.button(key="price_save").click().run()
    assert not at.exception
    assert "tiers must be a JSON list" in at.error[0].value
    assert price_for(workspace_path, "acme:custom") is None


def test_calculator_warns_on_unknown_model(workspace_path):
    at = _page(workspace_path)
    assert at.metric[0].value.startswith("$")  # default model is priced
    assert any(c.value == "Priced as anthropic:claude-haiku-4-5 from genai-prices." for c in at.caption)
    at.text_input(key="calc_model").set_value("local/llama-3.1-8b").run()
    # 1,500 input × $0.03 + 200 output × $0.20 per MTok
    assert at.metric[0].value == "$0.000085"
    assert any("from override file (estimate)" in c.value for c in at.caption)
    at.text_input(key="calc_model").set_value("mystery-model-9").run()
    assert "No price for 'mystery-model-9'" in at.warning[0].value


@pytest.mark.browser
def test_browser_edit_price_and_calculator(app_server, page, artifacts):
    url, _env = app_server
    page.goto(url)
    page.get_by_text("Workspace:").wait_for(timeout=60_000)  # the app's own navigation is up
    page.locator("[data-testid=stSidebarNav]").get_by_text("Prices", exact=True).click()
    page.get_by_role("heading", name="Prices").wait_for(timeout=60_000)
    model = page.get_by_label("Model", exact=True).first
    model.fill("local:llama-3.1-8b")
    model.press("Enter")
    # The price inputs are rebuilt for the chosen model (for a moment the old and the new input are
    # both on the page): wait until only the prefilled one is left.
    page.wait_for_function(
        """() => { const el = document.querySelectorAll("input[aria-label='Input $/MTok']");
                   return el.length === 1 && el[0].value === '0.0300'; }""", timeout=30_000)
    price_in = page.get_by_label("Input $/MTok", exact=True)
    price_in.fill("0.0500")
    price_in.press("Enter")
    page.get_by_role("button", name="Save price").click()
    page.get_by_text("Saved: local:llama-3.1-8b").wait_for(timeout=30_000)
    calc = page.get_by_label("Model", exact=True).nth(1)
    calc.fill("local:llama-3.1-8b")
    calc.press("Enter")
    # 1,500 input × $0.05 + 200 output × $0.20 per MTok = $0.000115 per call
    page.get_by_text("$0.000115").wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts / "prices_page.png"), full_page=True)


def test_price_table_has_no_none_cells(workspace_path):
    """Issue 13, item 18: a model without a prompt-cache price reads "—", never None."""
    from streamlit.testing.v1 import AppTest

    from core.settings import REPO_ROOT

    at = AppTest.from_file(str(REPO_ROOT / "app_pages" / "prices.py"), default_timeout=60)
    at.run()
    table = at.dataframe[0].value
    assert len(table) > 10
    assert not table.isna().any().any()
    assert (table["cached_write_per_mtok"] == "—").any()

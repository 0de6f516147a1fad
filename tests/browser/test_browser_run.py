"""In Chromium: run a small eval through the Live run page against the fake provider server,
watch the progress bar finish, then see the results' models on Compare models."""
from __future__ import annotations

import pandas as pd
import pytest

# Not anthropic: conftest.app_server removes ANTHROPIC_API_KEY from the app's environment.
MODELS = ["openai:browser-a-lat120ms", "gemini:browser-b-lat120ms"]


@pytest.fixture
def seeded_workspace(tmp_path):
    """The app's workspace (see conftest.app_server) with a labeled inputs-only eval set."""
    from core.evaluation.loading import load_csv
    from core.evaluation.store import save_evalset
    from core.workspace import Workspace

    rows = [{"item_id": f"b{i}", "input": f"Is {i} odd? answer: {'yes' if i % 2 else 'no'}",
             "label": "yes" if i % 2 else "no", "task": "parity"} for i in range(8)]
    ws = Workspace(tmp_path / "app-workspace.duckdb")
    save_evalset(ws, load_csv(pd.DataFrame(rows).to_csv(index=False).encode(), name="parity.csv"))
    ws.close()  # the app server opens it next (one process per DuckDB file)


@pytest.mark.browser
def test_run_in_browser_then_compare(fake_llm_env, fake_llm, seeded_workspace, app_server, page,
                                     artifacts):
    url, _env = app_server
    page.set_default_timeout(90_000)  # a cold server on a busy 2-core machine is slow
    page.goto(f"{url}/run")
    try:
        _drive(page, artifacts)
    except Exception:
        page.screenshot(path=str(artifacts / "run_page_failure.png"), full_page=True)
        raise
    assert fake_llm.count(status=200) == 16  # every call went to the provider server once


def _drive(page, artifacts):
    page.get_by_text("Live run", exact=True).first.wait_for()
    page.get_by_text("answers are scored against the labels").first.wait_for()
    box = page.get_by_role("textbox", name="Other models (provider:model, comma-separated)")
    box.fill(",".join(MODELS))
    box.press("Enter")
    page.get_by_text("16 calls").first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Start run").click()
    bar = page.locator('[data-testid="stProgress"]')
    bar.first.wait_for(timeout=60_000)  # the progress bar while calls are in flight
    page.get_by_text("Status finished").first.wait_for(timeout=90_000)
    page.get_by_text("16 answered").first.wait_for()
    page.screenshot(path=str(artifacts / "run_page_finished.png"), full_page=True)

    page.get_by_role("button", name="Open the results in Compare models").click()
    page.get_by_text("Compare models", exact=True).first.wait_for(timeout=60_000)
    for model in MODELS:
        page.get_by_text(model).first.wait_for(timeout=60_000)
    page.get_by_text("Leaderboard", exact=True).first.wait_for(timeout=90_000)
    page.screenshot(path=str(artifacts / "run_results_on_compare.png"), full_page=True)

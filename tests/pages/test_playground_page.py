"""The Playground: one prompt, several models side by side, each call in the ledger."""
from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.live.playground import send_prompt
from core.settings import REPO_ROOT

ROOT = REPO_ROOT


def test_send_prompt_side_by_side_and_ledger(fake_llm_env, fake_llm, ws):
    fake_llm.script("ok", model="pg-a", text="Paris is the capital.")
    frame = send_prompt(ws, "Capital of France?", ["openai:pg-a", "openai:always-500-pg",
                                                   "gemini:gemini-2.5-flash"], max_tokens=32)
    assert frame["model"].tolist() == ["openai:pg-a", "openai:always-500-pg", "gemini:gemini-2.5-flash"]
    assert frame["status"].tolist() == ["ok", "server_error", "ok"]
    assert frame.loc[0, "output"] == "Paris is the capital."
    assert frame.loc[0, "input_tokens"] > 0 and frame.loc[0, "output_tokens"] > 0
    assert frame.loc[2, "cost_usd"] > 0  # a catalog price: tokens × price
    assert pd.isna(frame.loc[1, "output"]) and "500" in frame.loc[1, "error"]
    rows = ws.cursor().execute(
        "select model, status, source, cost_usd, input_tokens from ledger order by model").fetchall()
    assert [(m, s, src) for m, s, src, _, _ in rows] == [
        ("always-500-pg", "server_error", "playground"), ("gemini-2.5-flash", "ok", "playground"),
        ("pg-a", "ok", "playground")]
    assert rows[1][3] == frame.loc[2, "cost_usd"] and rows[2][4] == frame.loc[0, "input_tokens"]


def test_playground_page_shows_each_model(fake_llm_env, fake_llm, ws, workspace_path):
    fake_llm.answer_fn = lambda parsed: f"answer from {parsed.model}"
    at = AppTest.from_file(str(ROOT / "app_pages" / "playground.py"), default_timeout=90).run()
    assert not at.exception
    assert at.button(key="playground_send").disabled  # no model yet
    at.multiselect(key="playground_models_presets").set_value(["anthropic:claude-haiku-4-5"])
    at.text_input(key="playground_models_extra").set_value("local:llama-test")
    at.text_area(key="playground_prompt").set_value("Say hello").run()
    at.button(key="playground_send").click().run()
    assert not at.exception, at.exception
    texts = [m.value for m in at.markdown]
    assert "answer from claude-haiku-4-5" in texts and "answer from llama-test" in texts
    table = at.dataframe[0].value
    assert table["model"].tolist() == ["anthropic:claude-haiku-4-5", "local:llama-test"]
    assert (table["status"] == "ok").all() and (table["latency_ms"] > 0).all()
    count = ws.cursor().execute(
        "select count(*) from ledger where source = 'playground'").fetchall()[0][0]
    assert count == 2


def test_empty_prompt_is_a_clear_error(fake_llm_env, ws, workspace_path):
    at = AppTest.from_file(str(ROOT / "app_pages" / "playground.py"), default_timeout=90).run()
    at.text_input(key="playground_models_extra").set_value("openai:x").run()
    at.button(key="playground_send").click().run()
    assert not at.exception
    assert any("Write a prompt" in e.value for e in at.error)


def test_no_error_before_a_model_is_chosen(monkeypatch, workspace_path):
    """Issue 13, item 18: no "No API key" error for models nobody has chosen yet."""
    from streamlit.testing.v1 import AppTest

    from core.settings import PROVIDERS, REPO_ROOT

    for provider in PROVIDERS.values():
        for name in provider.key_env:
            monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(str(REPO_ROOT / "app_pages" / "playground.py"), default_timeout=60)
    at.run()
    assert not at.exception and [e.value for e in at.error] == []

"""A key given to the app (environment or typed into the page) never reaches the DuckDB file,
logs, exports or error messages, on the success path and on the wrong-key path."""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.evaluation.loading import load_csv
from core.evaluation.store import save_evalset
from core.live.background import active_run
from core.live.command import run_cli
from core.settings import REPO_ROOT

ROOT = REPO_ROOT
CANARY = "canary-text-7f3a9b"  # stored on purpose: proves the byte search sees plain strings
ENV_KEY = "sk-envsecret-Q9w8E7r6T5y4U3i2"
WRONG_KEY = "sk-wrong-SECRETzz-A1b2C3d4E5f6"
PAGE_KEY = "sk-pagesecret-M1n2B3v4C5x6Z7"


def _inputs(tmp_path: Path, n: int = 4) -> Path:
    rows = [{"item_id": f"k{i}", "input": f"{CANARY} item {i} answer: yes", "label": "yes"}
            for i in range(n)]
    path = tmp_path / "inputs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _workspace_bytes(path: Path) -> bytes:
    """Every byte the workspace holds on disk (its catalog and WAL, its Parquet files, the
    spool), plus every value of every table as text (Parquet pages are compressed)."""
    from core.workspace import open_workspace

    ws = open_workspace(path)
    files = sorted(f for f in ws.path.rglob("*") if f.is_file())
    cur = ws.cursor()
    values = [repr(cur.execute(f"select * from {t}").fetchall()) for t in ws.tables(cur)]
    return b"".join(f.read_bytes() for f in files) + "\n".join(values).encode()


@pytest.fixture
def verbose_logs(caplog):
    caplog.set_level(logging.DEBUG)  # the SDKs and httpx log requests at debug level
    return caplog


def test_env_key_never_stored_logged_or_exported(fake_llm_env, workspace_path, tmp_path,
                                                 monkeypatch, capfd, verbose_logs):
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    out = tmp_path / "RESULTS.csv"
    assert run_cli(_inputs(tmp_path), ["openai:leak-check"], out) == 0
    captured = capfd.readouterr()
    results = out.read_text()
    assert "yes" in results and CANARY in results
    stored = _workspace_bytes(workspace_path)
    assert CANARY.encode() in stored  # the search can see stored text...
    assert ENV_KEY.encode() not in stored  # ...and the key is not there
    for text in (captured.out, captured.err, verbose_logs.text, results):
        assert ENV_KEY not in text


def test_wrong_key_error_path_never_echoes_the_key(fake_llm_env, fake_llm, workspace_path,
                                                   tmp_path, monkeypatch, capfd, verbose_logs):
    monkeypatch.setenv("OPENAI_API_KEY", WRONG_KEY)
    out = tmp_path / "RESULTS.csv"
    assert run_cli(_inputs(tmp_path), ["openai:leak-check"], out) == 1
    captured = capfd.readouterr()
    assert "auth" in captured.err and "failed" in captured.err
    assert fake_llm.count(model="leak-check", status=401) >= 1  # the server did refuse it
    stored = _workspace_bytes(workspace_path)
    assert ENV_KEY.encode() not in stored and WRONG_KEY.encode() not in stored
    # OpenAI echoes a masked key (first 8 + last 4 characters); even that does not get through.
    assert WRONG_KEY[-4:] not in captured.err
    for text in (captured.out, captured.err, verbose_logs.text, out.read_text()):
        assert WRONG_KEY not in text


def test_missing_key_message_names_the_variable_not_a_key(fake_llm_env, workspace_path, tmp_path,
                                                          monkeypatch):
    from core.errors import InputError

    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setattr("core.live.keys.default_secrets_paths", list)
    with pytest.raises(InputError, match="ANTHROPIC_API_KEY"):
        run_cli(_inputs(tmp_path), ["anthropic:claude-haiku-4-5"], tmp_path / "out.csv")


@pytest.mark.parametrize("key, ok", [(PAGE_KEY, True), (WRONG_KEY.replace("sk-", "sk-page-"), False)])
def test_key_typed_in_the_page_stays_in_the_session(fake_llm_env, fake_llm, ws, workspace_path,
                                                    monkeypatch, verbose_logs, key, ok):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setattr("core.live.keys.default_secrets_paths", list)
    rows = pd.DataFrame([{"input": f"{CANARY} {i} answer: yes", "label": "yes"} for i in range(3)])
    set_id = save_evalset(ws, load_csv(rows.to_csv(index=False).encode(), name="keys.csv"))
    at = AppTest.from_file(str(ROOT / "app_pages" / "run.py"), default_timeout=90)
    at.session_state["evalset_id"] = set_id
    at.run()
    at.text_input(key="run_models_extra").set_value("openai:page-leak").run()
    at.text_input(key="api_key_openai").set_value(key).run()
    at.button(key="start_run").click().run()
    handle = active_run(at.session_state["live_run_id"])
    assert handle.wait(90) and handle.error is None
    assert (handle.result.progress.ok, handle.result.progress.failed) == ((3, 0) if ok else (0, 3))
    at.run()
    assert not at.exception
    shown = "\n".join(str(e.value) for e in list(at.markdown) + list(at.caption) + list(at.error)
                      + list(at.info) + list(at.warning))
    assert ("finished" in shown) and key not in shown
    assert key not in verbose_logs.text
    ws.close()
    stored = _workspace_bytes(workspace_path)
    assert CANARY.encode() in stored and key.encode() not in stored


def test_cli_errors_are_one_line_and_keyless(fake_llm_env, workspace_path, tmp_path, monkeypatch,
                                             capsys):
    from core.cli import main

    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    inputs = _inputs(tmp_path)
    assert main(["run", str(inputs), "--models", "mystery:model", "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Unknown provider" in err and ENV_KEY not in err
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setattr("core.live.keys.default_secrets_paths", list)
    assert main(["run", str(inputs), "--models", "openai:a,gemini:b", "--out",
                 str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: no API key for gemini (set GEMINI_API_KEY)"
    assert not (tmp_path / "o.csv").exists()

"""The Live run page, driven headlessly: estimate, start, progress, cancel, resume, results on
Compare models. Calls go through the real SDKs to the fake provider server."""
from __future__ import annotations

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.evaluation.loading import load_csv
from core.evaluation.store import save_evalset
from core.live.background import active_run
from core.live.store import list_runs, run_calls
from core.settings import REPO_ROOT

TIMEOUT = 90
ROOT = REPO_ROOT


def _store(ws, n: int = 6, name: str = "tickets.csv") -> int:
    labels = ["billing", "bug", "other"]
    rows = [{"item_id": f"t{i}", "input": f"Ticket {i}: help answer: {labels[i % 3]}",
             "label": labels[i % 3], "task": "triage"} for i in range(n)]
    return save_evalset(ws, load_csv(pd.DataFrame(rows).to_csv(index=False).encode(), name=name))


def _page(set_id: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["evalset_id"] = set_id
    at.run()
    at.switch_page("app_pages/run.py").run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def _wait(at: AppTest) -> None:
    handle = active_run(at.session_state["live_run_id"])
    assert handle is not None and handle.wait(TIMEOUT), "run did not finish"
    assert handle.error is None, handle.error


def test_estimate_start_and_results_on_compare(fake_llm_env, ws):
    set_id = _store(ws)
    at = _page(set_id)
    assert "Choose at least one model." in _texts(at)
    at.multiselect(key="run_models_presets").set_value(["openai:gpt-4o-mini"])
    at.text_input(key="run_models_extra").set_value("anthropic:page-model").run()
    text = _texts(at)
    assert "12 calls" in text and "at most" in text  # 6 items × 2 models, priced where known
    assert "No catalog price for anthropic:page-model" in text
    estimate = at.dataframe[0].value
    assert estimate["calls"].tolist() == [6, 6]
    assert estimate["estimated cost ($, at most)"].notna().tolist() == [True, False]

    at.button(key="start_run").click().run()
    _wait(at)
    at.run()
    assert not at.exception, at.exception
    assert "Status **finished** · 12 answered" in _texts(at)
    summary = at.dataframe[0].value
    assert set(summary["model"]) == {"openai:gpt-4o-mini", "anthropic:page-model"}
    assert summary["quality"].tolist() == [1.0, 1.0]

    at.button(key=f"compare_{at.session_state['live_run_id']}").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Compare models"
    shown = set(at.multiselect[0].value)
    assert shown == {"openai:gpt-4o-mini", "anthropic:page-model"}


def test_missing_key_blocks_the_start(fake_llm_env, ws, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setattr("core.live.keys.default_secrets_paths", list)
    at = _page(_store(ws))
    at.multiselect(key="run_models_presets").set_value(["openai:gpt-4o-mini"]).run()
    assert "No API key for openai" in _texts(at)
    assert at.button(key="start_run").disabled
    at.text_input(key="api_key_openai").set_value("sk-typed-for-session-123456").run()
    assert not at.button(key="start_run").disabled
    assert "typed for this session" in _texts(at)


def test_cancel_then_resume(fake_llm_env, fake_llm, ws):
    at = _page(_store(ws, n=16))
    # 300 ms a call, one at a time: 4.8 s for all 16, room for a busy machine to click cancel
    at.text_input(key="run_models_extra").set_value("openai:slow-lat300ms").run()
    at.number_input(key="run_concurrency").set_value(1).run()
    at.button(key="start_run").click().run()
    run_id = at.session_state["live_run_id"]
    handle = active_run(run_id)
    while handle.progress.done < 2 and not handle.done:
        handle.wait(0.05)
    at.run()
    cancel = [b for b in at.button if b.key == f"cancel_{run_id}"]
    assert cancel, "no cancel button while running"
    cancel[0].click().run()
    assert handle.wait(TIMEOUT) and handle.result.status == "cancelled"
    done_before = len(run_calls(ws, run_id))
    assert 2 <= done_before < 16
    at.run()
    assert "Status **cancelled**" in _texts(at)
    assert at.selectbox(key="resume_choice").value == run_id
    at.button(key="resume_run").click().run()
    _wait(at)
    at.run()
    assert "Status **finished** · 16 answered" in _texts(at)
    assert list_runs(ws).set_index("run_id").loc[run_id, "status"] == "finished"
    assert max(fake_llm.call_counts(status=200).values()) == 1  # nothing asked twice
    assert fake_llm.count(model="slow-lat300ms", status=200) == 16


def test_inputs_less_evalset_is_explained(ws, workspace_path):
    set_id = save_evalset(ws, load_csv(b"item_id,model,score\n1,a,1\n2,a,0\n", name="scores.csv"))
    at = _page(set_id)
    assert "no `input` column" in _texts(at)


def test_fallback_chain_keys_and_semantic_measure(fake_llm_env, ws, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setattr("core.live.keys.default_secrets_paths", list)
    at = _page(_store(ws))
    at.text_input(key="run_models_extra").set_value("openai:primary").run()
    assert not at.button(key="start_run").disabled
    at.text_input(key="run_fallback").set_value("gemini:backup").run()
    assert "No API key for gemini" in _texts(at) and at.button(key="start_run").disabled
    at.text_input(key="run_fallback").set_value("nowhere:backup").run()
    assert "Fallback chain: Unknown provider" in _texts(at)
    at.text_input(key="run_fallback").set_value("").run()
    at.checkbox(key="run_semantic").check().run()
    rates = [d.value for d in at.dataframe if "wrong_rate" in d.value.columns]
    assert rates and rates[0]["threshold"].tolist() == [0.8, 0.85, 0.9, 0.95, 0.98, 1.0]
    # beside the slider: the false hits measured at the chosen threshold
    at.slider(key="run_threshold").set_value(0.9).run()
    assert "Measured on this eval set at **0.90**" in _texts(at)
    assert not at.exception


def test_a_server_that_refuses_connections_is_named_on_the_page(fake_llm_env, ws, monkeypatch):
    """Nothing listens at LOCAL_BASE_URL: the run ends with its two calls failed, and the page
    says why in a warning (before: 'finished' and '2 call(s) failed', no reason)."""
    from tests.fixtures.app import free_port

    monkeypatch.setenv("LOCAL_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    at = _page(_store(ws, n=2))
    at.text_input(key="run_models_extra").set_value("local:nobody-home")
    at.number_input(key="run_retries").set_value(0).run()
    at.button(key="start_run").click().run()
    _wait(at)
    at.run()
    assert not at.exception, at.exception
    warnings = "\n".join(w.value for w in at.warning)
    assert "2 call(s) failed; first: local connection: could not reach" in warnings, _texts(at)
    assert "Status **finished** · 0 answered, 0 from cache, 2 failed" in _texts(at)

"""Router.from_policy(...).complete / acomplete: the gateway's engine in-process, ledger included."""
from __future__ import annotations

import asyncio
import json

import pytest

from core.gateway.router import Router, RouterError
from core.routing.optimize.store import save_policy
from core.routing.policies import Cascade, FallbackChain
from core.workspace import Workspace

MINI, CLAUDE = "openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"


def _ledger(path):
    ws = Workspace(path)
    try:
        return ws.cursor().execute("select * from ledger").df()
    finally:
        ws.close()


def test_router_from_a_file_sync_and_async_books_every_call(tmp_path, fake_llm_env, fake_llm):
    policy_file = tmp_path / "support.json"
    policy_file.write_text(json.dumps({"format": "x", "policy": Cascade(["openai:mini-q50", CLAUDE],
                                                                        [0.7]).to_dict()}))
    workspace = tmp_path / "ws.duckdb"
    router = Router.from_policy(policy_file, workspace=workspace)
    result = router.complete([{"role": "user", "content": "Capital of Peru? answer: Lima"}],
                             team="care", task="geo")
    assert result.text == "Lima"
    assert result.policy == "support@library"
    assert result.models_tried[0] == "openai:mini-q50"

    async def many():
        try:
            return await asyncio.gather(*(router.acomplete(
                [{"role": "user", "content": f"q{i} answer: {i}"}]) for i in range(5)))
        finally:
            await router.aclose()

    results = asyncio.run(many())
    assert [r.text for r in results] == [str(i) for i in range(5)]
    router.close()
    rows = _ledger(workspace)
    assert len(rows) == len(fake_llm.calls)
    assert set(rows["source"]) == {"gateway"}
    first = rows[rows["eval_run"] == f"gw-{result.request_id}"]
    assert set(first["tags"]) == {"team:care,policy:support,policy_version:library"}
    assert set(first["task"]) == {"geo"}


def test_router_by_saved_name_and_errors(tmp_path, fake_llm_env, fake_llm):
    workspace = tmp_path / "ws.duckdb"
    ws = Workspace(workspace)
    save_policy(ws, "Backup Chain", FallbackChain(["openai:always-500", MINI]))
    ws.close()
    router = Router.from_policy("backup-chain", workspace=workspace, ledger=False)
    result = router.complete([{"role": "user", "content": "hi answer: hello"}])
    assert (result.text, result.model) == ("hello", MINI)
    assert result.models_tried == ["openai:always-500", MINI]
    with pytest.raises(RouterError) as err:
        router.complete([])
    assert err.value.status == 400
    router.close()
    with pytest.raises(Exception, match="No deployed or saved policy named 'nope'"):
        Router.from_policy("nope", workspace=workspace)

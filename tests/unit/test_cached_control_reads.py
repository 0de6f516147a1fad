"""The store agent's cached reads of control tables see another process's change at once."""
from __future__ import annotations

import os
import subprocess
import sys

from core.gateway.apikeys import key_table
from core.gateway.budgets import budget_state, list_budgets
from core.settings import REPO_ROOT
from core.workspace import Workspace


def cli(workspace: str, *args: str) -> None:
    """A CLI command: another process writing the same workspace."""
    subprocess.run([sys.executable, "-m", "core", *args], cwd=REPO_ROOT, check=True, timeout=120,
                   capture_output=True, env={**os.environ, "TRADEOFF_WORKSPACE": workspace})


def test_keys_and_budgets_changed_by_the_cli_are_seen_by_the_next_read(tmp_path, monkeypatch):
    monkeypatch.delenv("TRADEOFF_STORE", raising=False)
    path = str(tmp_path / "ws")
    ws = Workspace(path)
    try:
        assert key_table(ws) == (False, {}) and list_budgets(ws).empty
        assert key_table(ws) == (False, {})  # cached: same answer
        cli(path, "keys", "create", "app")
        required, keys = key_table(ws)
        assert required and [k["name"] for k in keys.values()] == ["app"]
        cli(path, "budgets", "set", "--scope", "overall", "--period", "daily", "--limit", "5")
        assert list(list_budgets(ws)["limit_usd"]) == [5.0]
        assert [s["limit_usd"] for s in budget_state(ws)] == [5.0]
        cli(path, "budgets", "set", "--scope", "overall", "--period", "daily", "--limit", "7")
        assert [s["limit_usd"] for s in budget_state(ws)] == [7.0]
        cli(path, "keys", "revoke", "app")
        assert key_table(ws) == (True, {})
    finally:
        ws.close()


def test_the_spend_page_figures_follow_an_import_by_another_process(tmp_path, monkeypatch):
    from core.spend.queries import SpendFilter, filter_options, spend_page_data

    monkeypatch.delenv("TRADEOFF_STORE", raising=False)
    path = str(tmp_path / "ws")
    usage = tmp_path / "usage.csv"
    usage.write_text("call_id,ts,model,cost_usd\na,2026-01-05T10:00:00Z,m1,0.50\n")
    ws = Workspace(path)
    try:
        flt = SpendFilter(scope="all")
        assert spend_page_data(ws, flt)["totals"]["requests"] == 0  # read (and cached) while empty
        cli(path, "ledger", "import", str(usage), "--format", "generic")
        first = spend_page_data(ws, flt)
        assert first["totals"]["cost_usd"] == 0.5 and filter_options(ws)["models"] == ["m1"]
        first["totals"]["cost_usd"] = 99  # a caller's copy: the cache is not changed through it
        assert spend_page_data(ws, flt)["totals"]["cost_usd"] == 0.5
        usage.write_text("call_id,ts,model,cost_usd\nb,2026-01-06T10:00:00Z,m2,0.25\n")
        cli(path, "ledger", "import", str(usage), "--format", "generic")
        assert spend_page_data(ws, flt)["totals"]["cost_usd"] == 0.75
        assert filter_options(ws)["models"] == ["m1", "m2"]
    finally:
        ws.close()


def test_a_name_is_unique_among_active_keys_and_webhooks_and_free_again_once_retired(ws):
    import pytest

    from core.errors import InputError
    from core.gateway.apikeys import create_key, revoke_key
    from core.gateway.webhooks import add_webhook, remove_webhook

    create_key(ws, "app")
    with pytest.raises(InputError, match="Key name 'app' is taken"):
        create_key(ws, "app")
    assert revoke_key(ws, "app") and not revoke_key(ws, "app")
    create_key(ws, "app")  # the name is free once the old key is revoked
    add_webhook(ws, "ops", "http://127.0.0.1:9/hook")
    with pytest.raises(InputError, match="Webhook name 'ops' is taken"):
        add_webhook(ws, "ops", "http://127.0.0.1:9/other")
    assert remove_webhook(ws, "ops")
    add_webhook(ws, "ops", "http://127.0.0.1:9/other")

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

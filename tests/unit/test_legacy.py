"""A workspace written by the 0.2 release (a DuckDB 2.0 file) migrates on first open, untouched.

The old file is made here by DuckDB 2.0 itself, fetched the way the migration fetches it
(``pip install --target`` into the cache); the test skips with the reason when PyPI cannot be
reached.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from core.errors import StoreUnavailableError
from core.settings import REPO_ROOT
from core.workspace import Workspace
from core.workspace.legacy import LEGACY_DUCKDB, fetch_duckdb

SCRIPT = REPO_ROOT / "tests" / "data" / "legacy" / "workspace_0.2.sql"


@pytest.fixture(scope="module")
def duckdb20():
    try:
        return fetch_duckdb(LEGACY_DUCKDB, lambda _: None)
    except StoreUnavailableError as exc:
        pytest.skip(f"DuckDB {LEGACY_DUCKDB} could not be fetched from PyPI: {str(exc)[:200]}")


def make_old_workspace(path, duckdb20, script=SCRIPT) -> None:
    """The file the 0.2 release would have written: ``script`` run by DuckDB 2.0 itself."""
    code = ("import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
            "con.execute(open(sys.argv[2]).read()); con.close(); print(duckdb.__version__)")
    done = subprocess.run([sys.executable, "-P", "-c", code, str(path), str(script)], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(duckdb20)}, check=True)
    assert done.stdout.strip() == LEGACY_DUCKDB


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_old_workspace_migrates_on_first_open_and_the_file_is_kept(tmp_path, duckdb20):
    from core.evaluation.store import list_evalsets, load_evalset, save_evalset
    from core.live.store import get_run, run_calls
    from core.pricing.edits import catalog_for
    from core.routing.optimize.store import list_policies, load_policy, save_policy
    from core.spend.budgets import list_budgets, non_urgent_tasks
    from core.spend.queries import SpendFilter, spend_by, totals

    old = tmp_path / "workspace.duckdb"
    make_old_workspace(old, duckdb20)
    before = digest(old)
    import duckdb

    with pytest.raises(duckdb.Error, match="version"):  # this release's DuckDB cannot read it
        duckdb.connect(str(old), read_only=True)

    messages: list[str] = []
    ws = Workspace(old, progress=messages.append)
    assert ws.path == tmp_path / "workspace"  # the directory beside the file, same stem
    assert any("converting it with that version" in m for m in messages)
    assert any(m.startswith("exported ledger (5,000 rows)") for m in messages)

    # every component finds its rows, ids kept
    sets = list_evalsets(ws)
    assert sets[["id", "name", "n_items"]].values.tolist() == [[2, "old set", 2]]
    es = load_evalset(ws, 2)
    assert es.models == ("a", "b") and es.items["segment"].tolist() == ["smb", "ent"]
    assert save_evalset(ws, es, name="new set") == 3  # new ids continue after the old ones
    assert list_policies(ws)["name"].tolist() == ["old cascade"]
    assert load_policy(ws, 1)[0].to_dict()["models"] == ["a", "b"]
    assert save_policy(ws, "new", load_policy(ws, 1)[0]) == 2
    assert sorted(list_budgets(ws)["amount_usd"]) == [5.0, 400.0]
    assert non_urgent_tasks(ws) == ["support"]
    assert catalog_for(ws).price_for("acme:custom").input_per_mtok == 2.0
    assert get_run(ws, "r1")["status"] == "finished" and len(run_calls(ws, "r1")) == 1

    # the ledger, and its rollup rebuilt (the old one lagged behind the ledger)
    all_rows = SpendFilter(scope="all")
    t = totals(ws, all_rows)
    assert t["rows"] == 5000
    assert t["cost_usd"] == pytest.approx(sum(0.001 * (i % 10) for i in range(5000)))
    assert spend_by(ws, ["model"], all_rows)["rows"].tolist() == [2500, 2500]

    # nothing left to migrate, the old file untouched; a second process opens the new directory
    # moved tables are dropped from the `legacy` schema; what no component claimed stays there
    assert set(ws.tables(ws.cursor(), "legacy")) == {"experiments", "ledger_rollup_state", "schema_versions"}
    ws.close()
    assert digest(old) == before
    again = Workspace(old, progress=messages.append)
    assert list_evalsets(again)["id"].tolist() == [3, 2]
    again.close()


def test_a_file_that_is_not_a_workspace_gets_a_clear_message(tmp_path):
    bad = tmp_path / "notes.duckdb"
    bad.write_text("this is not a database")
    with pytest.raises(StoreUnavailableError, match="was not changed"):
        Workspace(bad, progress=lambda _: None)
    assert bad.read_text() == "this is not a database"


LAST_RELEASE_LEDGER = """
create table schema_versions (component varchar primary key, version integer not null,
    updated_at timestamp default current_timestamp);
insert into schema_versions (component, version) values ('ledger', 3);
create table ledger (call_id varchar not null, ts timestamp not null, provider varchar,
    model varchar not null, task varchar, eval_run varchar, input_tokens bigint default 0,
    cached_input_tokens bigint default 0, cache_write_tokens bigint default 0,
    output_tokens bigint default 0, cost_usd double default 0, latency_ms double,
    status varchar not null default 'ok', cache_hit boolean not null default false,
    source varchar not null default 'live', experiment varchar, variant varchar,
    request_id varchar, import_file varchar, requests bigint default 1, tags varchar,
    project varchar, kind varchar not null default 'call', cost_basis varchar not null default 'reported');
insert into ledger (call_id, ts, model, cost_usd, source, request_id, import_file, kind, cost_basis,
    tags, provider) values
    ('generic:chatcmpl-a1', '2026-03-01 10:00', 'gpt-4o', 0.00123, 'import', 'chatcmpl-a1',
     'logs.csv', 'call', 'reported', null, 'openai'),
    ('generic:b', '2026-03-01 11:00', 'm', 'NaN', 'import', 'b', 'x.csv', 'call', 'reported', null, null),
    ('openai:abc#1', '2026-03-01', '(all models)', 0, 'import', null, 'u.json', 'usage', 'unknown',
     'batch', 'openai'),
    ('shadow:exp:es:i1:small', '2026-03-01 12:00', 'small', 2.5, 'shadow', 'i1', null, 'call',
     'reported', null, null);
"""


def test_the_last_releases_ledger_gets_this_releases_money_rules(tmp_path, duckdb20):
    """NaN and unpriced costs become unknown, replayed shadows simulation, provider request ids
    'req:<id>' (so a re-import in another format finds them), batch usage its service tier."""
    import pandas as pd

    from core.spend.imports.importer import import_file
    from core.spend.ledger import ensure_ledger
    from core.spend.queries import SpendFilter, totals

    script = tmp_path / "old.sql"
    script.write_text(LAST_RELEASE_LEDGER)
    old = tmp_path / "old.duckdb"
    make_old_workspace(old, duckdb20, script)
    ws = Workspace(old, progress=lambda _: None)
    ensure_ledger(ws)  # what every reader and writer does first
    stored = ws.cursor().execute("select * from ledger order by call_id").df().set_index("call_id")
    assert set(stored.index) == {"req:chatcmpl-a1", "req:b", "openai:abc#1", "shadow:exp:es:i1:small"}
    assert stored.loc["req:b", "cost_basis"] == "unknown" and pd.isna(stored.loc["req:b", "cost_usd"])
    assert pd.isna(stored.loc["openai:abc#1", "cost_usd"]) and stored.loc["openai:abc#1", "service_tier"] == "batch"
    assert stored.loc["shadow:exp:es:i1:small", "source"] == "simulation"
    t = totals(ws)
    assert (t["cost_usd"], t["unknown_cost_rows"]) == (pytest.approx(0.00123), 2)
    assert totals(ws, SpendFilter(scope="billable"))["cost_usd"] == pytest.approx(0.00123)
    # the same LiteLLM request imported again, in its own format, is already there
    data = REPO_ROOT / "tests" / "data" / "ledger"
    assert import_file(ws, data / "litellm_spendlogs.csv", "litellm").rows_added == 2  # a2, a3
    ws.close()

"""The Spend page's reads: few store reads, the same numbers.

The page reads the filter's rollup rows once (:class:`RollupRows`) and groups them in memory, and
finds the most expensive calls by reading only the calls at or above a floor taken from the
rollup's per-group dearest call (``max_cost``). Both must give exactly what the direct queries
give, on ledgers with ties, unknown costs, shadow and demo rows and every filter.
"""
from __future__ import annotations

import glob
from dataclasses import replace

import duckdb
import numpy as np
import pandas as pd
import pytest

from core.spend.imports.importer import import_file
from core.spend.ledger import MIGRATIONS, ensure_ledger, record_calls
from core.spend.queries import (
    DEMO_TAG,
    RollupRows,
    SpendFilter,
    read_filter_options,
    read_spend_page_data,
    spend_by,
    top_calls,
    totals,
)
from core.spend.rollup import compact_rollup
from core.workspace import open_workspace


def random_ledger(seed: int, n: int) -> pd.DataFrame:
    """Calls over 10 days with few distinct costs (many ties), ~10% unknown costs, every source."""
    rng = np.random.default_rng(seed)
    cost = rng.choice([0.001, 0.002, 0.005, 0.01, 0.02, 0.5], size=n).astype(float)
    cost[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({
        "call_id": [f"s{seed}-{i}" for i in range(n)],
        "ts": pd.Timestamp("2026-05-01") + pd.to_timedelta(rng.integers(0, 10 * 86400, n), unit="s"),
        "model": rng.choice(["small", "mid", "big"], n),
        "task": rng.choice(["support", "leads", None], n),
        "provider": rng.choice(["openai", "anthropic"], n),
        "cost_usd": cost,
        "source": rng.choice(["live", "import", "shadow", "simulation"], n, p=[0.5, 0.3, 0.1, 0.1]),
        "tags": rng.choice(["prod", "prod,ab", None, DEMO_TAG], n),
        "cache_hit": rng.random(n) < 0.1,
    })


FILTERS = [
    SpendFilter(),
    SpendFilter(scope="all"),
    SpendFilter(scope="shadow"),
    SpendFilter(date_from="2026-05-03", date_to="2026-05-06"),
    SpendFilter(models=("big",), tasks=("support",)),
    SpendFilter(tags=("ab",), scope="billable"),
    SpendFilter(demo=True, date_to="2026-05-02"),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_calls_read_above_the_floor_are_the_top_calls(ws, seed):
    frame = random_ledger(seed, 400)
    for part in (frame.iloc[i::4] for i in range(4)):  # four writes: the rollup repeats groups
        record_calls(ws, part)
    for flt in FILTERS:
        rows = RollupRows(ws, flt)
        for n in (1, 5, 20, 500):
            direct = top_calls(ws, flt, n)
            floored = top_calls(ws, flt, n, rows)
            pd.testing.assert_frame_equal(direct, floored)
    # and by hand, on the frame itself: production, no demo rows, dearest first, latest first on ties
    prod = frame[~frame["source"].isin(["shadow", "simulation"]) & (frame["tags"] != DEMO_TAG)]
    expected = prod.sort_values(["cost_usd", "ts"], ascending=[False, False], na_position="last")
    assert list(top_calls(ws, SpendFilter(), 20, RollupRows(ws, SpendFilter()))["call_id"]) \
        == list(expected["call_id"][:20])


def test_page_data_from_one_rollup_read_equals_the_direct_queries(ws):
    record_calls(ws, random_ledger(3, 300))
    for flt in FILTERS[:4]:
        data = read_spend_page_data(ws, flt)
        assert data["totals"] == totals(ws, flt)
        pd.testing.assert_frame_equal(data["by_day_model"], spend_by(ws, ["day", "model"], flt))
        pd.testing.assert_frame_equal(data["by_provider"], spend_by(ws, ["provider"], flt))
        if flt.scope == "production":
            assert data["shadow_totals"] == totals(ws, replace(flt, scope="shadow"))
            assert data["simulation_totals"] == totals(ws, replace(flt, scope="simulation"))


def test_the_rollup_keeps_each_groups_dearest_call_through_writes_and_compaction(ws):
    frame = random_ledger(4, 200)
    for part in (frame.iloc[i::5] for i in range(5)):
        record_calls(ws, part)
    by_hand = (frame.assign(day=frame["ts"].dt.normalize()).groupby(["day", "model"])["cost_usd"]
               .max().dropna().sort_index())
    query = ("select cast(day as timestamp) as day, model, max(max_cost) as m from ledger_daily "
             "group by all having m is not null order by all")
    assert compact_rollup(ws, min_repeats=1.0) > 0
    got = ws.cursor().execute(query).df().set_index(["day", "model"])["m"]
    np.testing.assert_allclose(got.to_numpy(), by_hand.to_numpy())
    assert list(got.index) == list(by_hand.index)


def test_a_v1_ledger_gains_max_cost_when_opened(workspace_path):
    old = open_workspace(workspace_path)
    old.ensure("ledger", MIGRATIONS[:1])  # the first release on the lake: no max_cost
    old.write(lambda cur: cur.execute(
        "insert into ledger (call_id, ts, model, cost_usd) values "
        "('a', '2026-05-01 10:00', 'm', 0.25), ('b', '2026-05-01 11:00', 'm', 0.75), "
        "('c', '2026-05-02 09:00', 'm', null)"))
    old.close()
    ws = open_workspace(workspace_path)
    ensure_ledger(ws)
    assert ws.cursor().execute("select day, max_cost, rows from ledger_daily order by day").fetchall() == [
        (pd.Timestamp("2026-05-01").date(), 0.75, 2), (pd.Timestamp("2026-05-02").date(), None, 1)]
    assert list(top_calls(ws, SpendFilter(), 2, RollupRows(ws, SpendFilter()))["call_id"]) == ["b", "a"]
    ws.close()


def test_filter_options_from_one_read(ws):
    record_calls(ws, random_ledger(5, 100))
    opts = read_filter_options(ws)
    assert opts["models"] == ["big", "mid", "small"] and opts["tags"] == ["ab", "prod"]
    assert opts["sources"] == ["import", "live", "shadow", "simulation"]
    assert str(opts["first_day"]) == "2026-05-01"
    assert DEMO_TAG in read_filter_options(ws, demo=True)["tags"]


def test_an_import_writes_its_rows_in_time_order(ws, tmp_path, monkeypatch):
    """A bulk import's Parquet file is sorted by time, so a date range skips row groups."""
    from core.spend.imports import commit
    monkeypatch.setattr(commit, "SHORT_LOCK_ROWS", 0)  # the path of imports over 50,000 rows
    n = 5000
    rng = np.random.default_rng(6)
    csv = tmp_path / "usage.csv"
    pd.DataFrame({"ts": (pd.Timestamp("2026-05-01") + pd.to_timedelta(rng.permutation(n) * 60, unit="s"))
                  .strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "model": "m", "cost_usd": 0.001}).to_csv(csv, index=False)
    ensure_ledger(ws)
    report = import_file(ws, csv, "generic")
    assert report.rows_added == n
    files = glob.glob(f"{ws.data_path}/main/ledger/import-*.parquet")
    assert len(files) == 1
    ts = duckdb.connect().execute(f"select ts from read_parquet('{files[0]}')").fetchnumpy()["ts"]
    assert len(ts) == n and (np.diff(ts.astype("int64")) >= 0).all()

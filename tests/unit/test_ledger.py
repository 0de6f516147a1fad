"""Spend queries on a small ledger, every number computed by hand."""
import datetime as dt

import pandas as pd
import pytest

from core.errors import InputError
from core.settings import REPO_ROOT
from core.spend.ledger import check_calls, insert_staged, record_calls
from core.spend.queries import (
    SpendFilter,
    cache_stats,
    cost_per_task,
    filter_options,
    spend_by,
    spend_page_data,
    top_calls,
    totals,
    traffic_share,
)
from tests.helpers.ledger import COLS, ROWS, T


@pytest.fixture
def ledger(ws):
    frame = pd.DataFrame(ROWS, columns=COLS)
    frame["requests"] = frame["requests"].astype("Int64")
    assert record_calls(ws, frame) == 7
    return ws


def test_totals_exclude_shadow_and_count_requests(ledger):
    t = totals(ledger)
    assert t["cost_usd"] == pytest.approx(0.089)
    assert t["requests"] == 7  # g has no request count
    assert t["rows"] == 6
    # per 1,000 requests: only rows that know their request count (g's $0.001 is left out)
    assert t["cost_per_1k_requests"] == pytest.approx(1000 * 0.088 / 7)
    assert totals(ledger, SpendFilter(scope="shadow"))["cost_usd"] == pytest.approx(0.040)
    assert totals(ledger, SpendFilter(scope="billable"))["cost_usd"] == pytest.approx(0.129)


def test_spend_by_day_and_model(ledger):
    frame = spend_by(ledger, ["day", "model"])
    got = {(r.day.date().isoformat(), r.model): round(r.cost_usd, 6) for r in frame.itertuples()}
    assert got == {("2026-03-01", "big"): 0.030, ("2026-03-01", "small"): 0.002,
                   ("2026-03-02", "big"): 0.050, ("2026-03-02", "small"): 0.006,
                   ("2026-03-03", "small"): 0.001}
    day1_small = frame[(frame["model"] == "small") & (frame["day"] == "2026-03-01")].iloc[0]
    assert day1_small["requests"] == 2


def test_cost_per_task_and_per_1000_requests(ledger):
    frame = cost_per_task(ledger).set_index("task")
    assert frame.loc["leads", "cost_usd"] == pytest.approx(0.056)
    assert frame.loc["leads", "requests"] == 4
    assert frame.loc["leads", "cost_per_1k_requests"] == pytest.approx(14.0)
    assert frame.loc["support", "cost_per_1k_requests"] == pytest.approx(1000 * 0.032 / 3)
    assert frame.loc["support", "cost_per_request"] == pytest.approx(0.032 / 3)
    assert pd.isna(frame.loc["(no task)", "cost_per_1k_requests"])
    assert list(frame.index)[0] == "leads"  # most expensive first


def test_traffic_share(ledger):
    share = traffic_share(ledger).set_index("model")
    assert share.loc["small", "requests"] == 5
    assert share.loc["small", "request_share"] == pytest.approx(5 / 7)
    assert share.loc["big", "cost_share"] == pytest.approx(0.080 / 0.089)


def test_cache_hit_rate_and_savings(ledger):
    stats = cache_stats(ledger).set_index("model")
    # small: 5 requests with a count, 1 hit; misses cost (0.002 + 0.006) over 4 requests
    assert stats.loc["small", "cache_hits"] == 1
    assert stats.loc["small", "hit_rate"] == pytest.approx(0.2)
    assert stats.loc["small", "avg_cost_per_miss"] == pytest.approx(0.002)
    assert stats.loc["small", "savings_usd"] == pytest.approx(0.002)
    assert stats.loc["big", "savings_usd"] == 0
    assert stats["cache_hits"].sum() / stats["requests"].sum() == pytest.approx(1 / 7)


def test_date_and_tag_filters(ledger):
    day2 = SpendFilter(date_from="2026-03-02", date_to="2026-03-02")
    assert totals(ledger, day2)["cost_usd"] == pytest.approx(0.056)
    assert totals(ledger, SpendFilter(tags=("ab",)))["cost_usd"] == pytest.approx(0.050)
    assert totals(ledger, SpendFilter(tags=("prod",)))["cost_usd"] == pytest.approx(0.082)
    assert totals(ledger, SpendFilter(tasks=("support",), models=("small",)))["cost_usd"] == pytest.approx(0.002)
    assert totals(ledger, SpendFilter(scope="all", experiments=("exp1",)))["cost_usd"] == pytest.approx(0.040)
    with pytest.raises(InputError, match="ends"):
        totals(ledger, SpendFilter(date_from="2026-03-05", date_to="2026-03-01"))
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        totals(ledger, SpendFilter(date_from="March"))


def test_top_calls_and_page_data(ledger):
    top = top_calls(ledger, n=2)
    assert list(top["call_id"]) == ["d", "b"]
    data = spend_page_data(ledger)
    assert data["shadow_totals"]["cost_usd"] == pytest.approx(0.040)
    assert data["by_day_task"]["cost_usd"].sum() == pytest.approx(0.089)
    assert set(data["by_provider"]["provider"]) == {"openai", "anthropic"}
    opts = filter_options(ledger)
    assert opts["first_day"] == dt.date(2026, 3, 1) and opts["tags"] == ["ab", "prod"]


def test_rerecording_adds_nothing_and_aware_timestamps_become_utc(ledger):
    frame = pd.DataFrame(ROWS, columns=COLS)
    assert record_calls(ledger, frame) == 0
    aware = pd.DataFrame({"call_id": ["z"], "ts": [T("2026-03-04 12:00", tz="Europe/Paris")],
                          "model": ["small"], "cost_usd": [0.5]})
    assert record_calls(ledger, aware) == 1
    row = ledger.cursor().execute("select ts, requests, source from ledger where call_id = 'z'").fetchone()
    assert row == (dt.datetime(2026, 3, 4, 11, 0), 1, "live")


def test_rollup_matches_the_raw_ledger_whoever_writes(ws):
    """Property: after interleaved writes (record_calls, a component writing ledger rows in its
    own transaction, an import whose cost rows supersede estimates, a rollup compaction) and
    reads, every view equals SQL over the raw rows."""
    import numpy as np

    from core.spend.imports.importer import import_file

    rng = np.random.default_rng(7)
    data = REPO_ROOT / "tests" / "data" / "ledger"
    for batch in range(6):
        n = int(rng.integers(1, 40))
        frame = pd.DataFrame({
            "call_id": [f"b{batch}-{i}" for i in range(n)],
            "ts": pd.Timestamp("2026-03-01") + pd.to_timedelta(rng.integers(0, 5 * 86400, n), unit="s"),
            "model": rng.choice(["small", "big"], n), "task": rng.choice(["a", "b", None], n),
            "cost_usd": rng.random(n).round(4), "cache_hit": rng.random(n) < 0.2,
            "source": rng.choice(["live", "shadow", "import"], n)})
        record_calls(ws, frame)
        if batch == 2:  # a component inserting in its own transaction, as the runner does
            row = check_calls(pd.DataFrame({"call_id": ["direct"], "ts": [pd.Timestamp("2026-03-02 08:00")],
                                              "model": ["small"], "cost_usd": [0.25]}))

            def body(cur, row=row):
                cur.register("one_row", row)
                assert insert_staged(ws, cur, "one_row") == 1

            ws.write(body)
        if batch == 4:
            from core.spend.rollup import compact_rollup

            assert compact_rollup(ws, min_repeats=1.0) > 0  # groups repeated by the batches fold
        if batch == 3:
            import_file(ws, data / "openai_usage.json", "openai")
            totals(ws)  # the estimates are absorbed into the rollup ...
            import_file(ws, data / "openai_costs.json", "openai")  # ... then superseded
        got = spend_by(ws, ["day", "model"], SpendFilter(scope="all"))
        raw = ws.cursor().execute(
            "select cast(ts as date) as day, model, sum(cost_usd) as cost, count(*) as n "
            "from ledger group by all order by all").df()
        assert len(got) == len(raw)
        assert np.allclose(got["cost_usd"].to_numpy(), raw["cost"].to_numpy())
        assert (got["rows"].to_numpy() == raw["n"].to_numpy()).all()

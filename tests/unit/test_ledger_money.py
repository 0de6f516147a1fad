"""Money in the ledger is exact or unknown: bad numbers refused by row, unknown costs never summed
as $0, usage priced at the tier it had, one request counted once whatever the format (ledgers of
the last release migrated: tests/unit/test_legacy.py). Every figure is worked out by hand in the comments."""
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from core.errors import InputError
from core.settings import REPO_ROOT
from core.spend.budgets import budget_status, set_budget
from core.spend.imports.formats import detect_format
from core.spend.imports.importer import import_file
from core.spend.ledger import record_calls
from core.spend.queries import SpendFilter, spend_by, totals
from core.spend.reports import spend_text
from core.workspace import open_workspace

DATA = REPO_ROOT / "tests" / "data" / "ledger"
T = pd.Timestamp
NAN_FILE = "call_id,ts,model,cost_usd\na,2026-01-05T10:00:00Z,m,0.50\nb,2026-01-06T10:00:00Z,m,NaN\n"


def rows(ws, where="true"):
    return ws.cursor().execute(f"select * from ledger where {where} order by call_id").df()


# -- 1. NaN, infinite and absurd numbers --------------------------------------------------------
def test_nan_cost_is_a_bad_row_and_totals_stay_right(ws, tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text(NAN_FILE)
    report = import_file(ws, path)
    assert (report.rows_added, report.bad_rows) == (1, 1)
    assert [(p.row, p.column) for p in report.problems] == [(2, "cost_usd")]
    assert "row 2, column 'cost_usd'" in report.summary_line()
    assert totals(ws)["cost_usd"] == 0.5  # was 0.0: one NaN made every total $0.00


@pytest.mark.parametrize("column, value", [
    ("cost_usd", "1e308"), ("cost_usd", "inf"), ("cost_usd", "-1"), ("cost_usd", "1000000.01"),
    ("input_tokens", "NaN"), ("input_tokens", "1e20"), ("output_tokens", "10000000000001"),
])
def test_absurd_numbers_are_refused_naming_the_row(ws, tmp_path, column, value):
    path = tmp_path / "bad.csv"
    path.write_text(f"ts,model,cost_usd,{'input_tokens' if column == 'cost_usd' else column}\n"
                    f"2026-01-05,m,0.5,10\n"
                    + (f"2026-01-06,m,{value},10\n" if column == "cost_usd" else f"2026-01-06,m,0.25,{value}\n"))
    report = import_file(ws, path)
    assert (report.rows_added, report.bad_rows) == (1, 1)
    assert (report.problems[0].row, report.problems[0].column) == (2, column)
    assert totals(ws)["cost_usd"] == 0.5


def test_largest_allowed_values_are_kept(ws, tmp_path):
    path = tmp_path / "edge.csv"
    path.write_text("ts,model,cost_usd,input_tokens\n2026-01-05,m,1000000,10000000000000\n")
    assert import_file(ws, path).rows_added == 1
    assert totals(ws)["cost_usd"] == 1_000_000.0 and totals(ws)["input_tokens"] == 10**13


def test_record_calls_refuses_bad_numbers_naming_row_and_call(ws):
    frame = pd.DataFrame({"call_id": ["a", "b", "c"], "ts": [T("2026-01-05")] * 3,
                          "model": ["m"] * 3, "cost_usd": [0.5, float("inf"), 2e6],
                          "input_tokens": [10, 1e20, 5]})
    with pytest.raises(InputError) as err:
        record_calls(ws, frame)
    text = str(err.value)
    assert "2 bad rows, nothing was recorded" in text
    assert "(call_id 'b'), row 2, column 'cost_usd'" in text and "got 'inf'" in text
    assert "(call_id 'b'), row 2, column 'input_tokens'" in text
    assert "(call_id 'c'), row 3, column 'cost_usd'" in text and "1,000,000" in text
    assert totals(ws, SpendFilter(scope="all"))["rows"] == 0  # nothing stored


def test_a_call_id_repeated_inside_one_batch_is_stored_once(ws):
    # a, a, b at $1, $1, $2: the repeated call counts once, so 2 rows and $3
    frame = pd.DataFrame({"call_id": ["a", "a", "b"], "ts": [T("2026-01-05")] * 3,
                          "model": ["m"] * 3, "cost_usd": [1.0, 1.0, 2.0]})
    assert record_calls(ws, frame) == 2
    assert rows(ws)["call_id"].tolist() == ["a", "b"]
    t = totals(ws, SpendFilter(scope="all"))
    assert (t["rows"], t["cost_usd"]) == (2, 3.0)
    # the same batch again adds nothing; with one new call only that call
    assert record_calls(ws, frame) == 0
    more = pd.DataFrame({"call_id": ["b", "c", "c"], "ts": [T("2026-01-05")] * 3,
                         "model": ["m"] * 3, "cost_usd": [2.0, 0.5, 0.5]})
    assert record_calls(ws, more) == 1
    assert totals(ws, SpendFilter(scope="all"))["cost_usd"] == 3.5


def test_missing_cost_is_unknown_never_zero(ws):
    record_calls(ws, pd.DataFrame({"call_id": ["a", "b", "c"], "ts": [T("2026-01-05"), T("2026-01-06"),
                                                                       T("2026-01-06")],
                                   "model": ["m", "m", "n"], "cost_usd": [0.5, None, float("nan")]}))
    stored = rows(ws).set_index("call_id")
    assert stored.loc["b", "cost_basis"] == "unknown" and pd.isna(stored.loc["b", "cost_usd"])
    t = totals(ws)
    assert (t["cost_usd"], t["unknown_cost_rows"], t["rows"]) == (0.5, 2, 3)
    assert spend_text(t["cost_usd"], t["unknown_cost_rows"]) == "$0.5000 + unknown"
    by_day = spend_by(ws, ["day"]).set_index("day")
    assert by_day.loc["2026-01-05", "cost_usd"] == 0.5
    assert pd.isna(by_day.loc["2026-01-06", "cost_usd"])  # not $0: nothing known that day
    assert by_day.loc["2026-01-06", "unknown_cost_rows"] == 2
    # per 1,000 requests only over rows that know their cost: $0.50 / 1 request
    assert t["cost_per_1k_requests"] == pytest.approx(500.0)


def test_budget_counts_known_spend_and_says_what_is_unknown(ws):
    now = T.now("UTC").tz_localize(None)
    record_calls(ws, pd.DataFrame({"call_id": ["a", "b"], "ts": [now] * 2, "model": ["m"] * 2,
                                   "cost_usd": [8.0, None]}))
    set_budget(ws, "daily", 10.0)
    status = budget_status(ws).iloc[0]
    assert (status["spent_usd"], status["unknown_cost_rows"], status["level"]) == (8.0, 1, 70)


# -- 3. one request, one row, whatever the format ---------------------------------------------
@pytest.mark.parametrize("name, fmt", [
    ("generic.csv", "generic"), ("generic.jsonl", "generic"), ("openai_usage.json", "openai"),
    ("openai_costs.json", "openai"), ("openai_costs_dashboard.csv", "openai"),
    ("anthropic_usage.json", "anthropic"), ("anthropic_cost.json", "anthropic"),
    ("litellm_spendlogs.csv", "litellm")])
def test_format_is_detected_from_the_file(name, fmt):
    assert detect_format(DATA / name, name)[0] == fmt


def test_litellm_file_without_format_then_as_litellm_counts_once(ws):
    first = import_file(ws, DATA / "litellm_spendlogs.csv")  # no format: detected
    assert first.format == "litellm" and "LiteLLM" in " ".join(first.notes)
    again = import_file(ws, DATA / "litellm_spendlogs.csv", "litellm")
    assert (again.rows_added, again.duplicates) == (0, 3)
    # 0.00123 + 0 (cache hit) + 0.000214, once
    assert totals(ws)["cost_usd"] == pytest.approx(0.001444)


def test_same_request_id_dedupes_across_generic_and_litellm(ws):
    assert import_file(ws, DATA / "litellm_spendlogs.csv", "generic").rows_added == 3
    assert import_file(ws, DATA / "litellm_spendlogs.csv", "litellm").rows_added == 0
    assert set(rows(ws)["call_id"]) == {"req:chatcmpl-a1", "req:chatcmpl-a2", "req:chatcmpl-a3"}


def test_an_explicit_format_still_checks_the_file(ws):
    with pytest.raises(InputError, match="not a LiteLLM SpendLogs export"):
        import_file(ws, DATA / "generic.csv", "litellm")


def test_pipe_separated_usage_file_is_read_by_its_columns(ws, tmp_path):
    path = tmp_path / "pipe.csv"
    path.write_text("call_id|ts|model|cost_usd|task\nx|2026-01-05|m|0.5|a, b\n")
    assert import_file(ws, path).rows_added == 1
    assert rows(ws)[["model", "task", "cost_usd"]].values.tolist() == [["m", "a, b", 0.5]]
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("ts model cost_usd\n2026-01-05 m 0.5\n")
    with pytest.raises(InputError, match="header has one column"):
        import_file(ws, spaced)
    # a header saved with one delimiter over rows saved with another: refused, both named (it
    # was DuckDB's "Error when sniffing file" with the path of the upload's temporary copy)
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("call_id;ts;model;cost_usd\np2,2026-01-05,m,0.25\np3,2026-01-05,m,0.5\n")
    with pytest.raises(InputError, match=r"mixed.csv: the header is separated by semicolons but "
                                         r"the rows below it by commas") as err:
        import_file(ws, mixed.read_bytes(), name="mixed.csv")
    assert "upload" not in str(err.value) and "sniffing" not in str(err.value)


# -- 6. usage that cannot be priced -------------------------------------------------------------
def _openai_page(**result) -> dict:
    base = {"object": "organization.usage.completions.result", "input_tokens": 2000,
            "output_tokens": 100, "input_cached_tokens": 0, "num_model_requests": 1,
            "project_id": None, "model": "gpt-4o-2024-08-06", "batch": None}
    return {"object": "page", "has_more": False, "data": [{
        "object": "bucket", "start_time": 1772323200, "end_time": 1772409600,
        "results": [{**base, **result}]}]}


def test_usage_without_a_model_is_unknown_with_the_fix_named(ws, tmp_path):
    path = tmp_path / "usage.json"
    path.write_text(json.dumps(_openai_page(model=None, num_model_requests=5)))
    report = import_file(ws, path)
    assert report.format == "openai"
    row = rows(ws).iloc[0]
    assert row["model"] == "(all models)" and pd.isna(row["cost_usd"]) and row["cost_basis"] == "unknown"
    notes = " ".join(report.notes)
    assert "grouped by model" in notes and "group_by=model" in notes and "Costs API" in notes
    t = totals(ws)
    assert (t["cost_usd"], t["unknown_cost_rows"], t["requests"]) == (None, 1, 5)
    assert spend_text(t["cost_usd"], t["unknown_cost_rows"]) == "unknown"  # was "$0.00"
    # the invoiced amount for that day settles it
    import_file(ws, DATA / "openai_costs.json", "openai")
    assert rows(ws, "kind = 'usage'")["cost_basis"].tolist() == ["superseded"]
    day = totals(ws, SpendFilter(date_from="2026-03-01", date_to="2026-03-01"))
    assert day["unknown_cost_rows"] == 0 and day["cost_usd"] == pytest.approx(0.0402 + 0.018)


# -- 7. usage priced at the tier its requests had ----------------------------------------------
def test_anthropic_report_priced_per_tier_batch_and_one_hour_writes(ws, tmp_path):
    def result(**kw):
        return {"uncached_input_tokens": 0, "cache_creation": {"ephemeral_5m_input_tokens": 0,
                "ephemeral_1h_input_tokens": 0}, "cache_read_input_tokens": 0, "output_tokens": 0,
                "model": "claude-sonnet-4-5-20250929", "workspace_id": None,
                "context_window": "0-200k", **kw}
    doc = {"has_more": False, "data": [{"starting_at": "2026-03-01T00:00:00Z", "results": [
        result(uncached_input_tokens=1_000_000, cache_read_input_tokens=1_000_000,
               cache_creation={"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1_000_000},
               output_tokens=100_000, service_tier="standard"),
        result(uncached_input_tokens=1_000_000, output_tokens=1_000_000, service_tier="batch")]}]}
    path = tmp_path / "anthropic.json"
    path.write_text(json.dumps(doc))
    import_file(ws, path)
    # standard: 1M x $3 + 1M one-hour writes x $6 + 1M reads x $0.30 + 100k x $15 = $10.80
    # batch:    1M x $1.50 + 1M x $7.50 = $9.00 (was $36.60 at the long-context, 5-minute rates)
    by_tier = spend_by(ws, ["service_tier"]).set_index("service_tier")["cost_usd"]
    assert by_tier.to_dict() == {"batch": pytest.approx(9.00), "standard": pytest.approx(10.80)}
    assert totals(ws)["cost_usd"] == pytest.approx(19.80)


def test_reimport_reprices_what_the_last_release_estimated(tmp_path):
    """A ledger of the last release holds the report above at $36.60 (its two rows as it wrote
    them: content ids, tokens, the one-giant-request estimate). Re-importing the report adds no
    row and re-prices both estimates: $19.80, batch apart."""
    ws = open_workspace(tmp_path / "old")
    record_calls(ws, pd.DataFrame([  # the rows as the last release wrote them (no service tier)
        {"call_id": "anthropic:8b6aa365756bcbfc983f0eeea35dfb12#1", "ts": pd.Timestamp("2026-03-01"),
         "provider": "anthropic", "model": "claude-sonnet-4-5-20250929", "input_tokens": 3_000_000,
         "cached_input_tokens": 1_000_000, "cache_write_tokens": 1_000_000, "output_tokens": 100_000,
         "cost_usd": 15.6, "source": "import", "import_file": "anthropic.json", "kind": "usage",
         "cost_basis": "catalog", "tags": "standard", "requests": None},
        {"call_id": "anthropic:0d5bcbc4d65572697cfcca8ebd155cf5#1", "ts": pd.Timestamp("2026-03-01"),
         "provider": "anthropic", "model": "claude-sonnet-4-5-20250929", "input_tokens": 1_000_000,
         "cached_input_tokens": 0, "cache_write_tokens": 0, "output_tokens": 1_000_000,
         "cost_usd": 21.0, "source": "import", "import_file": "anthropic.json", "kind": "usage",
         "cost_basis": "catalog", "tags": "batch", "requests": None},
        {"call_id": "generic:g-9", "ts": pd.Timestamp("2026-03-01"), "provider": "openai",
         "model": "gpt-4o", "input_tokens": 1000, "cached_input_tokens": 0, "cache_write_tokens": 0,
         "output_tokens": 100, "cost_usd": 0.5, "source": "import", "import_file": "g.csv",
         "kind": "call", "cost_basis": "reported", "tags": None, "requests": 1}]))
    assert totals(ws)["cost_usd"] == pytest.approx(36.60 + 0.5)
    doc = {"has_more": False, "data": [{"starting_at": "2026-03-01T00:00:00Z", "results": [
        {"uncached_input_tokens": 1_000_000, "cache_read_input_tokens": 1_000_000,
         "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1_000_000},
         "output_tokens": 100_000, "model": "claude-sonnet-4-5-20250929", "workspace_id": None,
         "context_window": "0-200k", "service_tier": "standard"},
        {"uncached_input_tokens": 1_000_000, "cache_creation": {"ephemeral_5m_input_tokens": 0,
         "ephemeral_1h_input_tokens": 0}, "cache_read_input_tokens": 0, "output_tokens": 1_000_000,
         "model": "claude-sonnet-4-5-20250929", "workspace_id": None, "context_window": "0-200k",
         "service_tier": "batch"}]}]}
    report_path = tmp_path / "anthropic.json"
    report_path.write_text(json.dumps(doc))
    report = import_file(ws, report_path)
    assert (report.rows_added, report.duplicates) == (0, 2)
    assert any("2 row(s) already in the ledger were catalog estimates: re-priced" in n for n in report.notes)
    by_tier = spend_by(ws, ["service_tier"]).set_index("service_tier")["cost_usd"]
    assert by_tier.to_dict() == {"batch": pytest.approx(9.00), "standard": pytest.approx(10.80 + 0.5)}
    assert totals(ws)["cost_usd"] == pytest.approx(19.80 + 0.5)  # a reported cost is never touched
    again = import_file(ws, report_path)
    assert again.rows_added == 0 and not any("re-priced" in n for n in again.notes)
    ws.close()


def test_long_context_only_when_the_report_says_so(ws, tmp_path):
    doc = {"data": [{"starting_at": "2026-03-01T00:00:00Z", "results": [
        {"uncached_input_tokens": 1_000_000, "cache_read_input_tokens": 0, "output_tokens": 0,
         "model": "claude-sonnet-4-5-20250929", "service_tier": "standard", "context_window": w}
        for w in ("200k-1M", "0-200k")]}]}
    path = tmp_path / "long.json"
    path.write_text(json.dumps(doc))
    import_file(ws, path)
    costs = sorted(rows(ws)["cost_usd"].tolist())
    assert costs == [pytest.approx(3.0), pytest.approx(6.0)]  # $3/M standard, $6/M long context


def test_one_call_pays_the_tier_of_its_own_input(ws, tmp_path):
    # a single call of 300k input tokens is a long-context request ($6/M); a usage bucket of the
    # same size without a stated window is many requests at the standard rate ($3/M)
    path = tmp_path / "calls.csv"
    path.write_text("ts,model,provider,input_tokens,output_tokens\n"
                    "2026-03-01,claude-sonnet-4-5-20250929,anthropic,300000,0\n")
    import_file(ws, path)
    assert rows(ws)["cost_usd"].tolist() == [pytest.approx(1.8)]


def test_openai_batch_row_at_half_price(ws, tmp_path):
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(_openai_page(batch=True)))
    import_file(ws, path)
    # standard: 2,000 x $2.50/M + 100 x $10/M = $0.006; batch: half, $0.003
    row = rows(ws).iloc[0]
    assert row["cost_usd"] == pytest.approx(0.003) and row["service_tier"] == "batch"


@pytest.mark.parametrize("name, old_ids", [
    # the ids the last release gave these files' rows (content hashes): re-imports must match them
    ("generic.jsonl", ["generic:1888e3210f2e7817518a90ffe987b5b6#1",
                       "generic:4889c50b2563e53d611cf55b8ac83e78#1"]),
    ("anthropic_usage.json", ["anthropic:b6ff76d6aa07a0c153790c2a54800042#1"]),
    ("openai_usage.json", ["openai:39430f13824e90ecd8217a01a1832583#1",
                           "openai:661a353da2414622554cad6df381ae8f#1"]),
])
def test_rows_without_request_ids_keep_the_last_releases_ids(ws, name, old_ids):
    import_file(ws, DATA / name)
    assert sorted(rows(ws)["call_id"]) == old_ids


# -- the command line: the reproduction ---------------------------------------------------
def test_cli_nan_file_then_csv_report(tmp_path):
    env = dict(os.environ, TRADEOFF_WORKSPACE=str(tmp_path / "cli.duckdb"))
    path = tmp_path / "nan.csv"
    path.write_text(NAN_FILE)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "core", *args], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    res = run("ledger", "import", str(path))
    assert res.returncode == 0 and "1 bad rows skipped" in res.stdout and "row 2" in res.stdout
    out = tmp_path / "r.csv"
    assert run("report", "--from", "2026-01-01", "--to", "2026-01-31", "--format", "csv",
               "--out", str(out)).returncode == 0
    report = pd.read_csv(out)
    total = report[report["section"] == "total"].iloc[0]
    assert total["cost_usd"] == 0.5 and total["unknown_cost_rows"] == 0  # was 0.0

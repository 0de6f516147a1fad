"""Imports of real usage exports: each format, idempotent re-import, bad rows reported and skipped."""
import datetime as dt

import pytest

from core.errors import InputError
from core.settings import REPO_ROOT
from core.spend.imports.importer import import_file
from core.spend.queries import SpendFilter, spend_by, totals

DATA = REPO_ROOT / "tests" / "data" / "ledger"


def rows(ws, where="true"):
    return ws.cursor().execute(f"select * from ledger where {where} order by call_id").df()


def test_generic_csv_bad_rows_reported_and_rest_kept(ws):
    report = import_file(ws, DATA / "generic.csv", "generic")
    assert (report.rows_read, report.rows_added, report.bad_rows) == (6, 4, 2)
    assert [(p.row, p.column) for p in report.problems] == [(4, "cost_usd"), (5, "model")]
    assert report.problems[0].got == "abc" and "US dollars" in report.problems[0].expected
    assert "row 4, column 'cost_usd'" in report.summary_line()
    frame = rows(ws).set_index("call_id")
    assert set(frame.index) == {"req:g-1", "req:g-2", "req:g-3", "req:g-6"}
    # an offset is converted to UTC; a date alone is midnight
    assert frame.loc["req:g-3", "ts"].to_pydatetime() == dt.datetime(2026, 3, 2, 9, 0)
    assert frame.loc["req:g-6", "ts"].to_pydatetime() == dt.datetime(2026, 3, 3)
    assert bool(frame.loc["req:g-3", "cache_hit"]) is True
    assert frame.loc["req:g-6", "experiment"] == "exp-7"
    assert frame.loc["req:g-6", "tags"] == "prod,ab"
    assert set(frame["source"]) == {"import"}
    assert totals(ws)["cost_usd"] == pytest.approx(0.0012 + 0.03 + 0 + 0.045)


def test_reimport_adds_nothing_twice(ws):
    for name, fmt in [("generic.csv", "generic"), ("generic.jsonl", "generic"),
                      ("openai_usage.json", "openai"), ("anthropic_cost.json", "anthropic"),
                      ("litellm_spendlogs.csv", "litellm")]:
        first = import_file(ws, DATA / name, fmt)
        before = totals(ws, SpendFilter(scope="all"))
        again = import_file(ws, DATA / name, fmt)
        assert again.rows_added == 0, name
        assert again.duplicates == first.rows_added, name
        assert totals(ws, SpendFilter(scope="all")) == before, name


def test_generic_jsonl_without_ids_dedupes_by_content(ws):
    report = import_file(ws, DATA / "generic.jsonl", "generic")
    assert (report.rows_added, report.bad_rows) == (2, 1)
    assert report.problems[0].column == "ts" and report.problems[0].row == 3
    assert totals(ws)["requests"] == 30
    # the same rows uploaded as bytes under another name are the same calls
    again = import_file(ws, (DATA / "generic.jsonl").read_bytes(), "generic", name="copy.jsonl")
    assert again.rows_added == 0


def test_identical_rows_in_one_file_are_both_kept(ws, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("ts,model,cost\n2026-03-01,m,0.5\n2026-03-01,m,0.5\n")
    assert import_file(ws, path, "generic").rows_added == 2
    assert import_file(ws, path, "generic").rows_added == 0
    assert totals(ws)["cost_usd"] == 1.0


def test_openai_usage_buckets_priced_then_superseded_by_costs(ws):
    usage = import_file(ws, DATA / "openai_usage.json", "openai")
    assert (usage.rows_added, usage.bad_rows) == (2, 1)
    assert usage.problems[0].column == "output_tokens" and usage.problems[0].got == "-5"
    mini = rows(ws, "model = 'gpt-4o-mini-2024-07-18'").iloc[0]
    assert mini["requests"] == 150 and mini["kind"] == "usage"
    assert mini["input_tokens"] == 120000 and mini["cached_input_tokens"] == 40000
    assert mini["ts"].to_pydatetime() == dt.datetime(2026, 3, 1)
    assert mini["project"] == "proj_abc"
    # catalog: 80k uncached x $0.15/M + 40k cached x $0.075/M + 30k output x $0.60/M
    assert mini["cost_basis"] == "catalog"
    assert mini["cost_usd"] == pytest.approx(0.012 + 0.003 + 0.018)
    costs = import_file(ws, DATA / "openai_costs.json", "openai")
    assert costs.rows_added == 2
    day1 = totals(ws, SpendFilter(date_from="2026-03-01", date_to="2026-03-01"))
    assert day1["cost_usd"] == pytest.approx(0.0402 + 0.018)  # invoiced amounts, not estimates
    assert day1["requests"] == 170  # requests still come from the usage buckets
    assert set(rows(ws, "kind = 'usage'")["cost_basis"]) == {"superseded"}


def test_openai_dashboard_costs_csv(ws):
    report = import_file(ws, DATA / "openai_costs_dashboard.csv", "openai")
    assert report.rows_added == 2
    frame = rows(ws)
    assert set(frame["model"]) == {"gpt-4o-2024-08-06"}
    assert frame["cost_usd"].sum() == pytest.approx(0.895874 + 0.25)
    assert frame["requests"].isna().all()


def test_anthropic_usage_and_cost_reports(ws):
    import_file(ws, DATA / "anthropic_usage.json", "anthropic")
    usage = rows(ws).iloc[0]
    assert usage["input_tokens"] == 1500 + 2000 + 1500
    assert (usage["cached_input_tokens"], usage["cache_write_tokens"], usage["output_tokens"]) == (2000, 1500, 700)
    assert usage["project"] == "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"
    # 1,500 uncached at $3/M, 2,000 reads at $0.30/M, 500 five-minute writes at $3.75/M and
    # 1,000 one-hour writes at $6/M (2x input), 700 output at $15/M
    assert usage["cost_usd"] == pytest.approx(1500 * 3e-6 + 2000 * 0.3e-6 + 500 * 3.75e-6
                                              + 1000 * 6e-6 + 700 * 15e-6)
    import_file(ws, DATA / "anthropic_cost.json", "anthropic")
    day2 = totals(ws, SpendFilter(date_from="2026-03-02", date_to="2026-03-02"))
    assert day2["cost_usd"] == pytest.approx(1.2345 + 0.20)  # amounts are in cents


def test_litellm_spendlogs_never_store_the_key(ws):
    report = import_file(ws, DATA / "litellm_spendlogs.csv", "litellm")
    assert (report.rows_added, report.bad_rows) == (3, 1)
    assert report.problems[0].row == 4 and report.problems[0].column == "cost_usd"
    frame = rows(ws).set_index("call_id")
    a1 = frame.loc["req:chatcmpl-a1"]
    assert a1["latency_ms"] == pytest.approx(1250) and a1["task"] == "support"
    assert a1["provider"] == "openai" and a1["project"] == "team-1"
    assert bool(frame.loc["req:chatcmpl-a2", "cache_hit"]) is True
    assert frame.loc["req:chatcmpl-a3", "task"] == "leads"
    dump = frame.astype(str).to_csv()
    assert "88dc28d0f030" not in dump and "a73dc2d0f030" not in dump and "palantir" not in dump
    by_task = spend_by(ws, ["task"]).set_index("task")["cost_usd"]
    assert by_task["support"] == pytest.approx(0.00123)


def test_file_with_no_good_row_stores_nothing(ws, tmp_path):
    import_file(ws, DATA / "generic.csv", "generic")
    before = totals(ws)
    bad = tmp_path / "bad.csv"
    bad.write_text("ts,model,cost\nyesterday,m,1\n2026-01-01,,2\n")
    with pytest.raises(InputError) as err:
        import_file(ws, bad, "generic")
    assert "row 1, column 'ts'" in str(err.value) and "row 2, column 'model'" in str(err.value)
    assert totals(ws) == before


def test_unusable_files_say_what_is_expected(ws, tmp_path):
    nocost = tmp_path / "nocost.csv"
    nocost.write_text("ts,model\n2026-01-01,m\n")
    with pytest.raises(InputError, match="cost_usd"):
        import_file(ws, nocost, "generic")
    with pytest.raises(InputError, match="LiteLLM"):
        import_file(ws, DATA / "generic.csv", "litellm")
    with pytest.raises(InputError, match="OpenAI"):
        import_file(ws, DATA / "generic.csv", "openai")
    with pytest.raises(InputError, match="no such file"):
        import_file(ws, tmp_path / "missing.csv", "generic")
    with pytest.raises(InputError, match="format"):
        import_file(ws, DATA / "generic.csv", "excel")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        import_file(ws, empty, "generic")


def test_bad_value_after_the_type_sniffing_sample_is_reported(ws, tmp_path):
    # DuckDB sniffs column types from the first rows; a bad value far below must still be a
    # reported bad row (the importer re-reads the file as text), never a failed import.
    path = tmp_path / "long.csv"
    good = "".join(f"2026-03-01T00:00:{i % 60:02d}Z,m,0.001,call-{i}\n" for i in range(30_000))
    path.write_text("ts,model,cost_usd,call_id\n" + good + "1772323200,m,abc,call-x\n"
                    + "1772323200,m,0.5,call-y\n")
    report = import_file(ws, path, "generic")
    assert (report.rows_read, report.rows_added, report.bad_rows) == (30_002, 30_001, 1)
    assert (report.problems[0].row, report.problems[0].column, report.problems[0].got) == \
        (30_001, "cost_usd", "abc")
    epoch = ws.cursor().execute("select ts from ledger where call_id = 'req:call-y'").fetchone()[0]
    assert epoch == dt.datetime(2026, 3, 1)  # epoch seconds read as UTC


# -- files that are not what they seem: every message names the row, the column and the fix ----
def import_error(ws, tmp_path, content: bytes, name: str = "usage.csv") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        import_file(ws, path)
    assert rows(ws).empty  # nothing stored
    return info.value.one_line()


HEADER = b"ts,model,cost_usd,task\n"


def test_ragged_rows_are_named_not_reported_as_missing_columns(ws, tmp_path):
    message = import_error(ws, tmp_path, HEADER + b"2026-01-05T10:00:00Z,m,0.5,a\n"
                           b"2026-01-05T11:00:00Z,m,0.5,a,extra\n2026-01-05T12:00:00Z,m\n")
    assert "missing column" not in message
    assert "usage.csv, row 2: expected 4 fields, as in the header, got '5 fields'" in message
    assert "usage.csv, row 3, column 'cost_usd': expected 4 fields" in message


def test_latin1_and_utf16_files_say_which_encoding_to_save_in(ws, tmp_path):
    latin = (HEADER.decode() + "2026-01-05T10:00:00Z,m,0.5,café\n").encode("latin-1")
    message = import_error(ws, tmp_path, latin)
    assert "usage.csv, row 1, column 'task': expected UTF-8 text" in message
    assert "save it as CSV UTF-8" in message and "byte e9" in message
    utf16 = (HEADER.decode() + "2026-01-05T10:00:00Z,m,0.5,a\n").encode("utf-16")
    assert "it looks like UTF-16 text; save it as CSV UTF-8" in import_error(ws, tmp_path, utf16)


def test_an_unclosed_quote_is_refused_not_imported_as_a_model_name(ws, tmp_path):
    message = import_error(ws, tmp_path, HEADER + b'2026-01-05T10:00:00Z,"m,0.5,a\n'
                           b"2026-01-05T11:00:00Z,n,0.5,a\n")
    assert "usage.csv, row 1: expected properly quoted fields" in message


def test_a_nul_byte_inside_a_name_is_refused(ws, tmp_path):
    message = import_error(ws, tmp_path, HEADER + b"2026-01-05T10:00:00Z,gpt\x00-4o,0.5,a\n")
    assert "usage.csv, row 1, column 'model': expected text without NUL bytes" in message


def test_a_field_over_the_row_limit_is_named_with_its_size(ws, tmp_path):
    huge = b"2026-01-05T10:00:00Z,m,0.5," + b"x" * 2_200_000 + b"\n"
    message = import_error(ws, tmp_path, HEADER + huge)
    assert "CSV Error on Line" not in message
    assert ("usage.csv, row 1, column 'task': expected a row under 2 MB (the CSV reader's limit "
            "per row), got '2.1 MB, 2,200,000 characters in this column'") in message

"""State that follows the data (issue 13, item 17): widgets set up for one eval set or one
ledger range start afresh when the data changes, and two uploads of one file can be told apart."""
from __future__ import annotations

import hashlib

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.evaluation.loading import load_csv
from core.evaluation.store import list_evalsets, save_evalset
from core.settings import REPO_ROOT
from core.spend.ledger import record_calls
from tests.helpers.apptest import run_clean

DATA = REPO_ROOT / "tests" / "data" / "ledger"


def _inputs(name: str) -> bytes:
    return ("item_id,input,label\n" + "".join(f"{name}{i},Ticket {i},yes\n" for i in range(3))).encode()


def test_live_run_title_follows_the_eval_set(ws):
    first = save_evalset(ws, load_csv(_inputs("a"), name="first.csv"), name="first.csv")
    second = save_evalset(ws, load_csv(_inputs("b"), name="second.csv"), name="second.csv")
    at = AppTest.from_file(str(REPO_ROOT / "app_pages" / "run.py"), default_timeout=90)
    at.session_state["evalset_id"] = first
    run_clean(at)
    assert at.text_input(key="run_name").value == "first.csv"
    at.selectbox(key="run_evalset").set_value(second)
    run_clean(at)
    assert at.text_input(key="run_name").value == "second.csv"
    at.text_input(key="run_name").set_value("my run")  # a title typed for this set stays
    run_clean(at)
    assert at.text_input(key="run_name").value == "my run"


def test_spend_dates_widen_to_an_import_of_last_month(ws):
    record_calls(ws, pd.DataFrame({"call_id": ["today"], "ts": [pd.Timestamp("2026-04-30 09:00")],
                                   "model": ["m"], "cost_usd": [0.5]}))
    at = run_clean(AppTest.from_file(str(REPO_ROOT / "app_pages" / "spend.py"), default_timeout=90))
    assert at.date_input(key="spend_from").value == pd.Timestamp("2026-04-30").date()
    assert next(m.value for m in at.metric if m.label == "Spend") == "$0.5000"
    at.file_uploader(key="spend_import_file").set_value(
        ("generic.csv", (DATA / "generic.csv").read_bytes(), "text/csv"))
    run_clean(at)
    at.button(key="spend_import_button").click()
    run_clean(at)
    # generic.csv's good rows: 0.0012 + 0.0300 + 0 + 0.0450 on 1-3 March, plus 0.50 on 30 April
    assert at.date_input(key="spend_from").value == pd.Timestamp("2026-03-01").date()
    assert at.date_input(key="spend_to").value == pd.Timestamp("2026-04-30").date()
    assert next(m.value for m in at.metric if m.label == "Spend") == "$0.5762"


def test_two_uploads_of_one_file_show_version_and_hash(ws):
    old, new = _inputs("a"), _inputs("a") + b"a9,Ticket 9,no\n"
    at = AppTest.from_file(str(REPO_ROOT / "app_pages" / "run.py"), default_timeout=90)
    run_clean(at)
    for data in (old, new):
        at.file_uploader(key="run_evalset_upload").set_value(("tickets.csv", data, "text/csv"))
        run_clean(at)
    sets = list_evalsets(ws).set_index("id")
    ids = sets.index[sets["name"] == "tickets.csv"].tolist()
    assert len(ids) == 2
    picker = at.selectbox(key="run_evalset")
    labels = [picker.format_func(i) for i in picker.options_values] if hasattr(picker, "options_values") \
        else list(picker.options)
    assert f"tickets.csv · v1 · 3 items · 0 models · sha256 {hashlib.sha256(old).hexdigest()[:8]}" in labels
    assert f"tickets.csv · v2 · 4 items · 0 models · sha256 {hashlib.sha256(new).hexdigest()[:8]}" in labels

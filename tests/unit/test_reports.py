"""Cost reports: formula-injection guard (CSV, XLSX), self-contained HTML, PDF, and the CLI."""
import csv
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from core.exports import safe_cell
from core.settings import REPO_ROOT
from core.spend.ledger import record_calls
from core.spend.reports import write_report

ROOT = REPO_ROOT
DATA = REPO_ROOT / "tests" / "data" / "ledger"
EVIL = ["=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
        "\tTAB", "\rCR"]


@pytest.fixture
def evil_ledger(ws):
    frame = pd.DataFrame({
        "call_id": [f"=c{i}" for i in range(len(EVIL))] + ["ok"],
        "ts": [pd.Timestamp("2026-03-01 10:00")] * (len(EVIL) + 1),
        "model": EVIL + ["gpt-4o-mini"],
        "task": EVIL + ["support"],
        "provider": ["openai"] * (len(EVIL) + 1),
        "cost_usd": [0.5] * len(EVIL) + [0.25],  # a number stays a number (negatives are refused)
    })
    record_calls(ws, frame)
    return ws


def test_safe_cell():
    assert [safe_cell(v) for v in EVIL] == ["'" + v for v in EVIL]
    assert safe_cell(-0.5) == -0.5 and safe_cell(3) == 3 and safe_cell("a=b") == "a=b"
    assert safe_cell(None) is None


def test_csv_neutralizes_formulas(evil_ledger, tmp_path):
    out = tmp_path / "r.csv"
    write_report(evil_ledger, "2026-03-01", "2026-03-31", "csv", out)
    with open(out, newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    assert not [c for c in cells if c.startswith("-") and not re.fullmatch(r"-[\d.e-]+", c)]
    for v in EVIL:
        assert "'" + v in cells
    frame = pd.read_csv(out)
    total = frame[(frame["section"] == "total")].iloc[0]
    assert float(total["cost_usd"]) == pytest.approx(0.5 * len(EVIL) + 0.25)
    assert frame.loc[frame["key"] == "price_snapshot", "detail"].iloc[0]


def test_xlsx_neutralizes_formulas_and_keeps_numbers(evil_ledger, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "r.xlsx"
    write_report(evil_ledger, "2026-03-01", "2026-03-31", "xlsx", out)
    wb = load_workbook(out)
    assert {"Summary", "By day", "By model", "By task", "By provider", "Top calls", "Budgets"} <= set(wb.sheetnames)
    values = []
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                values.append(cell.value)
    texts = [v for v in values if isinstance(v, str)]
    assert not [t for t in texts if t[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'" + EVIL[0] in texts and "'" + EVIL[3] in texts
    by_task = wb["By task"]
    header = [c.value for c in by_task[1]]
    costs = [r[header.index("cost_usd")].value for r in by_task.iter_rows(min_row=2)]
    assert all(isinstance(c, float) for c in costs) and 0.25 in costs
    summary = " ".join(str(c.value) for c in wb["Summary"]["A"])
    assert "Total production spend: $3.25" in summary and "Price snapshot" in summary


def test_html_is_self_contained(evil_ledger, tmp_path):
    out = tmp_path / "r.html"
    write_report(evil_ledger, "2026-03-01", "2026-03-31", "html", out)
    text = out.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=[\"']?https?:", text)
    assert "plotly" in text.lower() and len(text) > 1_000_000  # plotly.js inlined
    assert "Total production spend: $3.25" in text
    assert "<script>alert" not in text and "&quot;http://evil&quot;" in text  # names escaped


def test_pdf_renders_with_totals(evil_ledger, tmp_path):
    out = tmp_path / "r.pdf"
    write_report(evil_ledger, "2026-03-01", "2026-03-31", "pdf", out)
    assert out.read_bytes()[:5] == b"%PDF-"
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
        assert "Total production spend: $3.25" in text


def test_cli_import_and_report(tmp_path):
    env = dict(os.environ, TRADEOFF_WORKSPACE=str(tmp_path / "cli.duckdb"))
    def run(*args):
        return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    res = run("ledger", "import", str(DATA / "litellm_spendlogs.csv"), "--format", "litellm")
    assert res.returncode == 0, res.stderr
    assert "3 added" in res.stdout and "1 bad rows skipped" in res.stdout and "row 4" in res.stdout
    out = tmp_path / "r.csv"
    res = run("report", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "csv", "--out", str(out))
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert float(frame.loc[frame["section"] == "total", "cost_usd"].iloc[0]) == pytest.approx(0.00123 + 0.000214)
    res = run("report", "--from", "2026-03-31", "--to", "2026-03-01", "--format", "csv", "--out", str(out))
    assert res.returncode == 2 and "before it starts" in res.stderr and "Traceback" not in res.stderr

"""Saved experiments round-trip, and the decision memo (HTML and PDF) carries the verdict."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core.errors import InputError
from core.evaluation.loading import load_csv
from core.experiments.memo import memo_html, memo_pdf
from core.experiments.store import (
    ab_definition,
    list_experiments,
    load_experiment,
    run_ab,
    save_experiment,
)


def _evalset(n: int = 400):
    """Two models; 'cheap' is right on 97% of items 'big' is right on, at a tenth of the cost."""
    rng = np.random.default_rng(4)
    big = rng.random(n) < 0.9
    cheap = big & (rng.random(n) < 0.97)
    lines = ["item_id,task,model,score,cost_usd,latency_ms,input"]
    for i in range(n):
        task = ["billing", "<script>alert(1)</script>"][i % 2]
        lines.append(f"q{i},{task},big,{int(big[i])},0.01,{900 + i % 50},question {i}")
        lines.append(f"q{i},{task},cheap,{int(cheap[i])},0.001,{300 + i % 50},question {i}")
    return load_csv(("\n".join(lines) + "\n").encode(), name="memo & test.csv")


@pytest.fixture(scope="module")
def record():
    es = _evalset()
    control, candidate = {"kind": "single", "model": "big"}, {"kind": "single", "model": "cheap"}
    res = run_ab(es, control, candidate, name="cheap <b>switch</b>", tolerance=0.05)
    return {"name": "cheap <b>switch</b>", "kind": "ab",
            "definition": ab_definition(es, control, candidate, name="cheap <b>switch</b>", tolerance=0.05),
            "results": res.to_dict()}


def test_save_list_load_roundtrip(ws, record):
    exp_id = save_experiment(ws, record["name"], "ab", record["definition"], record["results"])
    listed = list_experiments(ws)
    assert listed["id"].tolist() == [exp_id]
    assert listed["verdict"].iloc[0] == record["results"]["verdict"]["decision"]
    loaded = load_experiment(ws, exp_id)
    assert loaded["results"]["differences"]["quality"] == record["results"]["differences"]["quality"]
    assert loaded["definition"]["candidate"] == {"kind": "single", "model": "cheap"}
    with pytest.raises(InputError, match="No saved experiment"):
        load_experiment(ws, exp_id + 1)
    with pytest.raises(InputError, match="needs a name"):
        save_experiment(ws, "  ", "ab", {}, {})


def test_html_memo_is_self_contained_escaped_and_complete(record):
    page = memo_html(record)
    verdict = record["results"]["verdict"]["decision"]
    assert f"Verdict: {verdict}" in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # task names are escaped
    assert "cheap &lt;b&gt;switch&lt;/b&gt;" in page
    assert not re.search(r"(src|href)\s*=", page) and "@import" not in page and "url(" not in page
    for section in ("Per arm", "Differences", "Sample size", "Guardrails", "Staged rollout", "Per task",
                    "price snapshot"):
        assert section in page
    q = record["results"]["differences"]["quality"]
    assert f"{q['diff']:+.3f}" in page


def test_pdf_memo_is_one_page_with_the_verdict(record, tmp_path: Path):
    data = memo_pdf(record)
    assert data.startswith(b"%PDF")
    path = tmp_path / "memo.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True)
    if info.returncode == 0:
        assert re.search(r"Pages:\s+1\n", info.stdout)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True)
    if text.returncode == 0:
        verdict = record["results"]["verdict"]["decision"].upper()
        assert f"VERDICT: {verdict}" in text.stdout
        assert "Staged rollout" in text.stdout

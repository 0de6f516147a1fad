"""Real browser: set up an A/B on the sample eval set and download the decision memo."""
from __future__ import annotations

import re
import subprocess

import pytest

from tests.helpers.browser import download

pytestmark = pytest.mark.browser


def test_ab_on_sample_and_download_memo(app_server, page, artifacts, tmp_path):
    url, _env = app_server
    page.goto(f"{url}/experiments")
    page.get_by_role("tab", name="Plan an experiment").click(timeout=90_000)  # replays plan one
    page.get_by_text("A: control (production)").wait_for(timeout=90_000)

    # name the experiment (also its assignment salt) and raise the tolerance
    name = page.get_by_label("Experiment name (also the assignment salt)")
    name.wait_for(timeout=90_000)  # the first run seeds the sample eval set: slow on a busy machine
    name.fill("browser-ab")
    name.press("Enter")
    tol = page.get_by_label("Tolerance: largest acceptable quality drop").first
    tol.fill("0.030")
    tol.press("Enter")

    # a rerun may draw the tabs anew on the first one: come back to the plan before reading it
    page.get_by_role("tab", name="Plan an experiment").click(timeout=90_000)
    badge = page.get_by_text(re.compile(r"Verdict: (go|no-go|inconclusive)")).first
    badge.wait_for(timeout=90_000)
    page.get_by_text("Staged rollout (each stage: the first k% of units by hash)").wait_for()
    page.wait_for_timeout(500)  # let reruns settle before reading the final verdict
    verdict = re.search(r"Verdict: (no-go|go|inconclusive)", badge.inner_text()).group(1)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    badge.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "experiments_ab.png"))

    memo = download(page, "Download memo (HTML)")
    html_path = tmp_path / "memo.html"
    memo.save_as(html_path)
    html = html_path.read_text()
    assert memo.suggested_filename == "browser-ab-memo.html"
    assert f"Verdict: {verdict}" in html
    assert "Decision memo: browser-ab" in html and "Staged rollout" in html

    pdf_path = tmp_path / "memo.pdf"
    download(page, "Download memo (PDF)").save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf_path), "-"], capture_output=True, text=True)
    if text.returncode == 0:
        assert f"VERDICT: {verdict.upper()}" in text.stdout

"""Every page opened by its own URL in Chromium: app.py's navigation, no exception, its title.

A fresh server is hit on a deep link first: Streamlit serves a folder named ``pages/`` as
legacy pages until some session has run app.py, which once showed a bare file list without the
sidebar's workspace and budget banner. This guards against that coming back.
"""
import pytest

from ui.navigation import PAGES

pytestmark = pytest.mark.browser

TITLES = {path.split("/")[-1][:-3]: title for pages in PAGES.values() for path, title, _ in pages}


def test_every_page_by_direct_url(app_server, page, artifacts):
    url, _ = app_server
    order = ["budgets"] + [p for p in TITLES if p != "budgets"]  # a deep link first, on a cold server
    for slug in order:
        page.goto(f"{url}/{slug}")
        nav = page.locator('[data-testid="stSidebarNav"]')
        nav.get_by_text("Compare models").wait_for(timeout=60_000)
        assert "Decide" in nav.inner_text(), slug
        page.get_by_role("heading", name=TITLES[slug]).first.wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0, f"{slug} raised"
        assert "Workspace:" in page.locator('[data-testid="stSidebar"]').inner_text(), slug
    page.screenshot(path=str(artifacts / "navigation_last_page.png"), full_page=True)

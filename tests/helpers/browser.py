"""Browser-test steps that wait for the app the way a person does."""
from __future__ import annotations

from playwright.sync_api import Download, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout


def settled(page: Page, timeout_ms: int = 60_000) -> None:
    """Wait until no script run is in progress (Streamlit's "Running..." widget is gone)."""
    page.wait_for_timeout(300)  # a rerun just triggered shows its widget within this
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=timeout_ms)


def download(page: Page, button: str, timeout_ms: int = 120_000) -> Download:
    """Click the download button named ``button`` on a settled page and return the download.

    A button whose file is built on click (Streamlit's deferred data) belongs to the script run
    that drew it: a click that lands while another run replaces the page asks for a file that run
    dropped, and nothing downloads ("Deferred file ... not found" in the server's log). A person
    clicks again once the page has settled; so does this, once.
    """
    for wait_ms in (30_000, timeout_ms):
        settled(page)
        try:
            with page.expect_download(timeout=wait_ms) as info:
                page.get_by_role("button", name=button).first.click()
            return info.value
        except PlaywrightTimeout:
            if wait_ms == timeout_ms:
                raise

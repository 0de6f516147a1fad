"""Small helpers for page tests driven by streamlit.testing.v1.AppTest."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest


def run_clean(at: AppTest) -> AppTest:
    """Run the page and fail on any exception it raised."""
    at.run()
    assert not at.exception, at.exception
    return at


def table_with(at: AppTest, column: str):
    """The first table showing ``column`` (AppTest does not expose dataframe keys)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)

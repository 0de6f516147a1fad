"""The error boundary of every page: no error reaches the browser as a traceback.

``app.py`` runs the sidebar and the page inside :func:`boundary`; fragments (which rerun on their
own) are wrapped with :func:`guarded`. An error is shown as :func:`core.errors.describe` words it:
an input problem as it was written for the person who gave the input, a workspace that cannot
be opened, read or written (locked by another process, read-only, full) with what to do, and
anything unexpected as one line, its traceback in the server log (redacted). With
``TRADEOFF_DEBUG=1`` (developers, the test suite) an unexpected error is raised as it is.
Streamlit's own control flow (``st.stop``, ``st.rerun``, ``st.switch_page``) passes through: it
is not an ``Exception``.
"""
from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator

import streamlit as st

from core.errors import describe
from core.live.keys import redact
from core.settings import debug
from core.workspace import default_label

log = logging.getLogger("tradeoff.pages")

TITLES = {"input": "This input cannot be used", "store": "The workspace cannot be used",
          "bug": "Something went wrong"}


def show(exc: Exception) -> None:
    """Show ``exc`` on the page as a message (never a traceback); raise it in debug mode when
    it is unexpected."""
    failure = describe(exc, default_label())
    if failure.kind == "bug":
        if debug():
            raise exc
        log.error("unexpected error on a page", exc_info=exc)  # redacted by core.live.keys
        message = failure.message + " The details are in the server log."
    else:
        message = failure.message
    st.error(f"**{TITLES[failure.kind]}.** {redact(message)}", icon=":material/error:")


@contextlib.contextmanager
def boundary() -> Iterator[None]:
    """Run a page (or the sidebar) inside: an error ends it with a message instead."""
    try:
        yield
    except Exception as exc:  # the boundary: every error becomes a message
        show(exc)


def guarded(fn: Callable) -> Callable:
    """The boundary for a function Streamlit reruns by itself (``@st.fragment``)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with boundary():
            return fn(*args, **kwargs)
    return wrapper

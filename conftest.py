"""Pytest set-up for the whole repository: the test suite and the doctests in ``core/``.

Shared fixtures live in plugins (``tests/fixtures/``), registered here for every test:

* ``tests.fixtures.workspace``: ``workspace_path``, ``ws``, the acceptance data files;
* ``tests.fixtures.fake_llm``: ``fake_llm``, ``fake_llm_env`` (local wire-format servers);
* ``tests.fixtures.app``: ``app_server``, ``browser``, ``page``, ``artifacts``;
* ``tests.fixtures.postgres``: ``pg_server`` (a throwaway PostgreSQL cluster for the session),
  ``team_store`` (a team-mode store URL of the test's own, set as TRADEOFF_STORE);
* ``tests.fixtures.gateway``: ``gateway_server`` (the gateway on uvicorn, one per test module).

Tests in ``tests/browser`` are marked ``browser`` and those in ``tests/acceptance`` are marked
``acceptance`` by their folder, so ``-m "not browser"`` runs the rest. ``TRADEOFF_DEBUG=1`` is
set, so an unexpected error in a page or the CLI raises instead of becoming a message. Doctests see ``np``,
``pd``, ``es`` (the hand-computed 4-item eval set of ``tests/unit/test_policies.py``) and ``ws``
(a fresh in-memory workspace).
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

pytest_plugins = ["tests.fixtures.workspace", "tests.fixtures.fake_llm", "tests.fixtures.app",
                  "tests.fixtures.postgres", "tests.fixtures.gateway"]

# Unexpected errors raise in tests (a page would show them as a one-line message): a bug fails
# its test instead of hiding behind the error boundary. Tests of that boundary unset it.
os.environ.setdefault("TRADEOFF_DEBUG", "1")


def pytest_collection_modifyitems(items):
    for item in items:
        parts = item.path.parts
        if "browser" in parts:
            item.add_marker(pytest.mark.browser)
        if "acceptance" in parts:
            item.add_marker(pytest.mark.acceptance)


@pytest.fixture(autouse=True)
def _doctest_names(request, doctest_namespace):
    """Names every docstring example in core/ may use."""
    if request.node.__class__.__name__ != "DoctestItem":
        yield
        return
    from core.evaluation.loading import load_csv
    from core.workspace import Workspace
    from tests.helpers.routing import tiny_csv

    ws = Workspace(":memory:")
    doctest_namespace.update(np=np, pd=pd, es=load_csv(tiny_csv(), name="tiny.csv"), ws=ws,
                             load_csv=load_csv)
    yield
    ws.close()

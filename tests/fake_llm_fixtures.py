"""Pytest fixtures around :mod:`tests.fake_llm_server` (import them; they are not in conftest).

Use in a test module (import each fixture you use; each one stands alone)::

    from tests.fake_llm_fixtures import fake_llm  # noqa: F401  (pytest fixture)

    def test_something(fake_llm):
        fake_llm.script("rate_limit", model="m", times=2, retry_after=0.05)
        url = fake_llm.base_urls["openai"]          # http://127.0.0.1:PORT/v1
        ...
        assert max(fake_llm.call_counts(status=200).values()) == 1

``fake_llm``: the one server of this test process (started on first use on a free port, a daemon
thread), reset before and after each test: calls, scripted rules, latency, hang, prompt cache,
valid keys, answer_fn. ``fake_llm_env``: the same server, with ``*_BASE_URL`` and fake
``*_API_KEY`` variables set for the test (monkeypatch); returns that dict, e.g. to pass as the
environment of a subprocess (``python -m core run``, the app server).
"""
from __future__ import annotations

import atexit

import pytest

from tests.fake_llm_server import FakeLLMServer

_SERVER: FakeLLMServer | None = None


def shared_fake_llm() -> FakeLLMServer:
    """The process-wide server, started on first use and stopped at exit."""
    global _SERVER
    if _SERVER is None or _SERVER._thread is None or not _SERVER._thread.is_alive():
        _SERVER = FakeLLMServer().start()
        atexit.register(_SERVER.stop)
    return _SERVER


@pytest.fixture(scope="session")
def fake_llm_session() -> FakeLLMServer:
    """The shared server without per-test reset (kept for modules that import it)."""
    return shared_fake_llm()


@pytest.fixture
def fake_llm() -> FakeLLMServer:
    server = shared_fake_llm()
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def fake_llm_env(monkeypatch) -> dict[str, str]:
    server = shared_fake_llm()
    server.reset()
    env = server.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env
    server.reset()

"""Every setting Tradeoff reads from the environment, in one table.

Provider keys and base URLs (read by ``core run``, the Live run page, the playground and the
gateway alike), and where the workspace and price overrides live. Keys are only ever *named*
here; their values are resolved, and kept out of every string that leaves the process, by
:mod:`core.live.keys`.

>>> PROVIDERS["openai"].key_env, PROVIDERS["openai"].url_env
(('OPENAI_API_KEY',), 'OPENAI_BASE_URL')
>>> env_path("TRADEOFF_WORKSPACE", environ={}) is None
True
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ProviderSettings:
    """The variables that configure one provider (``PROVIDER:MODEL`` prefix)."""

    name: str
    key_env: tuple[str, ...]  # the first one set wins
    url_env: str
    key_required: bool = True  # a local server usually takes no key
    default_url: str | None = None  # None: the SDK's own default


PROVIDERS: dict[str, ProviderSettings] = {
    "anthropic": ProviderSettings("anthropic", ("ANTHROPIC_API_KEY",), "ANTHROPIC_BASE_URL"),
    "openai": ProviderSettings("openai", ("OPENAI_API_KEY",), "OPENAI_BASE_URL"),
    "gemini": ProviderSettings("gemini", ("GEMINI_API_KEY", "GOOGLE_API_KEY"), "GEMINI_BASE_URL"),
    # Ollama's OpenAI-compatible endpoint unless LOCAL_BASE_URL says otherwise
    "local": ProviderSettings("local", ("LOCAL_API_KEY",), "LOCAL_BASE_URL", key_required=False,
                              default_url="http://127.0.0.1:11434/v1"),
}

WORKSPACE_ENV = "TRADEOFF_WORKSPACE"  # the workspace file (default data/workspace.duckdb)
PRICE_OVERRIDES_ENV = "TRADEOFF_PRICE_OVERRIDES"  # the override price file (default data/...)
CLOCK_ENV = "TRADEOFF_NOW"  # an ISO instant taken as "now" for today's budgets (tests, demos)
DEBUG_ENV = "TRADEOFF_DEBUG"  # 1: show tracebacks of unexpected errors (developers, tests)
DEFAULT_WORKSPACE = REPO_ROOT / "data" / "workspace.duckdb"
DEFAULT_PRICE_OVERRIDES = REPO_ROOT / "data" / "price_overrides.json"


def env_text(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A variable's value, stripped; None when unset or blank."""
    value = (os.environ if environ is None else environ).get(name, "")
    return value.strip() or None


def debug(environ: Mapping[str, str] | None = None) -> bool:
    """Whether unexpected errors show their traceback (``TRADEOFF_DEBUG=1``); off for users."""
    return (env_text(DEBUG_ENV, environ) or "0").lower() not in ("0", "false", "no", "off")


def env_path(name: str, environ: Mapping[str, str] | None = None) -> Path | None:
    value = env_text(name, environ)
    return Path(value).expanduser() if value else None

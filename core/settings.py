"""Every setting Tradeoff reads from the environment, in one table.

Provider keys and base URLs (read by ``core run``, the Live run page, the playground and the
gateway alike), where the workspace (the store) and price overrides live, and the local cache. Keys are only ever *named*
here; their values are resolved, and kept out of every string that leaves the process, by
:mod:`core.live.keys`.

>>> PROVIDERS["openai"].key_env, PROVIDERS["openai"].url_env
(('OPENAI_API_KEY',), 'OPENAI_BASE_URL')
>>> env_path("TRADEOFF_WORKSPACE", environ={}) is None
True
>>> cache_dir({"XDG_CACHE_HOME": "/c"}).as_posix()
'/c/tradeoff'
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

# -- the store (core.workspace) ---------------------------------------------------------------
# TRADEOFF_STORE: where the workspace lives, and it wins over TRADEOFF_WORKSPACE. Either a
#   directory (the embedded store: a SQLite catalog + Parquet files, no server) or
#   postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?data_path=DIR&schema=NAME&sslmode=...] (team mode:
#   the catalog in PostgreSQL, shared by every machine; the Parquet files in data_path, which
#   every machine must reach).
# TRADEOFF_WORKSPACE: the embedded workspace directory (kept from the single-file releases: a path
#   ending in .duckdb names the old file, and the workspace is the directory beside it with the
#   same stem, migrated from the file on first open; the file itself is never changed).
# TRADEOFF_DATA_PATH: team mode's Parquet directory when the URL has no data_path.
# TRADEOFF_SPOOL_DIR: where ledger writers spool calls before they reach the store (default:
#   <workspace>/spool embedded, <cache>/spool/<store> in team mode). Must be a local disk.
# TRADEOFF_CACHE_DIR: the local cache (DuckDB extension files, the DuckDB that reads old
#   workspaces); default $XDG_CACHE_HOME/tradeoff or ~/.cache/tradeoff.
STORE_ENV = "TRADEOFF_STORE"
WORKSPACE_ENV = "TRADEOFF_WORKSPACE"
DATA_PATH_ENV = "TRADEOFF_DATA_PATH"
SPOOL_DIR_ENV = "TRADEOFF_SPOOL_DIR"
CACHE_DIR_ENV = "TRADEOFF_CACHE_DIR"
PRICE_OVERRIDES_ENV = "TRADEOFF_PRICE_OVERRIDES"  # the override price file (default data/...)
CLOCK_ENV = "TRADEOFF_NOW"  # an ISO instant taken as "now" for today's budgets (tests, demos)
DEBUG_ENV = "TRADEOFF_DEBUG"  # 1: show tracebacks of unexpected errors (developers, tests)
DEFAULT_WORKSPACE = REPO_ROOT / "data" / "workspace"
LEGACY_WORKSPACE = REPO_ROOT / "data" / "workspace.duckdb"  # the single file of releases <= 0.2
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


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The local cache directory (never shared between machines)."""
    explicit = env_path(CACHE_DIR_ENV, environ)
    if explicit:
        return explicit
    xdg = env_path("XDG_CACHE_HOME", environ)
    return (xdg or Path("~/.cache").expanduser()) / "tradeoff"

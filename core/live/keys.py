"""API keys: where they come from, and keeping them out of every string that leaves the process.

Resolution order for a provider's key (the first that has one wins):

1. the session: keys typed into the page, held in ``st.session_state`` only (passed here as a dict);
2. the environment: ``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``, ``GEMINI_API_KEY`` (or
   ``GOOGLE_API_KEY``), ``LOCAL_API_KEY``;
3. ``.streamlit/secrets.toml`` (read with tomllib; core never imports streamlit), in any of the
   shapes people write it: ``OPENAI_API_KEY = "..."``, ``[openai] api_key = "..."`` or
   ``[api_keys] openai = "..."``.

>>> resolve_key("openai", session={"openai": "sk-typed"}, environ={}, secrets_paths=[])
'sk-typed'
>>> redact("401: Incorrect API key provided: sk-proj-abcdef123456")
'401: Incorrect API key provided: [redacted]'

Every key this module hands out is remembered (in memory only) so :func:`redact` removes it even
where it does not look like a key. :class:`RedactingFilter` applies :func:`redact` to log records.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from core.settings import PROVIDERS, REPO_ROOT

REDACTED = "[redacted]"


def _key_names(provider: str) -> tuple[str, ...]:
    settings = PROVIDERS.get(provider)
    return settings.key_env if settings else ()


_MIN_SECRET_LEN = 6  # shorter values would redact ordinary words

# Shapes of keys and of the places keys travel in (headers, query strings, assignments).
_PATTERNS = [
    re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-\*\.]{4,}"),                # OpenAI, Anthropic (sk-ant-...)
    re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{8,}"),                   # Google API keys
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.\*=]{6,}"),
    re.compile(r"(?i)((?:x-api-key|x-goog-api-key|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&}]{4,}"),
    re.compile(r"([?&]key=)[^&\s\"']+"),
]

_known: set[str] = set()
_known_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value so :func:`redact` removes it wherever it appears."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _known_lock:
            _known.add(value)


def redact(text: object, extra: Iterable[str | None] = ()) -> str:
    """``text`` with every known key value and every key-shaped substring replaced.

    >>> redact("key=AIzaSyD-abcdefghijkl used", extra=["hunter2-secret"])
    'key=[redacted] used'
    """
    out = str(text)
    with _known_lock:
        values = set(_known)
    values.update(v for v in extra if v and len(v) >= _MIN_SECRET_LEN)
    for value in sorted(values, key=len, reverse=True):  # longest first: no partial leftovers
        if value in out:
            out = out.replace(value, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups:
            out = pattern.sub(lambda m: m.group(1) + REDACTED, out)
        else:
            out = pattern.sub(REDACTED, out)
    return out


def default_secrets_paths() -> list[Path]:
    """Where Streamlit looks for secrets: the working directory, the project, the home folder."""
    project = REPO_ROOT
    paths = [Path.cwd() / ".streamlit" / "secrets.toml", project / ".streamlit" / "secrets.toml",
             Path.home() / ".streamlit" / "secrets.toml"]
    unique: list[Path] = []
    for path in paths:
        if path not in unique:
            unique.append(path)
    return unique


def _from_secrets(provider: str, paths: Iterable[Path]) -> str | None:
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError):
            continue  # an absent or broken secrets file is the same as no key from it
        for name in _key_names(provider):
            if isinstance(data.get(name), str) and data[name]:
                return data[name]
        section = data.get(provider)
        if isinstance(section, dict) and isinstance(section.get("api_key"), str) and section["api_key"]:
            return section["api_key"]
        table = data.get("api_keys")
        if isinstance(table, dict) and isinstance(table.get(provider), str) and table[provider]:
            return table[provider]
    return None


def secrets_setting(name: str, secrets_paths: Iterable[Path] | None = None) -> str | None:
    """A top-level string from secrets.toml (e.g. ``LOCAL_BASE_URL``), or None."""
    for path in default_secrets_paths() if secrets_paths is None else secrets_paths:
        try:
            with open(path, "rb") as handle:
                value = tomllib.load(handle).get(name)
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def resolve_key_with_source(provider: str, session: Mapping[str, str] | None = None,
                            environ: Mapping[str, str] | None = None,
                            secrets_paths: Iterable[Path] | None = None) -> tuple[str | None, str | None]:
    """``(key, source)`` where source is ``session``, ``env``, ``secrets`` or None."""
    environ = os.environ if environ is None else environ
    candidates = [("session", (session or {}).get(provider))]
    candidates += [("env", environ.get(name)) for name in _key_names(provider)]
    for source, value in candidates:
        if value and value.strip():
            register_secret(value.strip())
            return value.strip(), source
    value = _from_secrets(provider, default_secrets_paths() if secrets_paths is None else secrets_paths)
    if value and value.strip():
        register_secret(value.strip())
        return value.strip(), "secrets"
    return None, None


def resolve_key(provider: str, session: Mapping[str, str] | None = None,
                environ: Mapping[str, str] | None = None,
                secrets_paths: Iterable[Path] | None = None) -> str | None:
    """The key for ``provider`` (session, then environment, then secrets.toml), or None."""
    return resolve_key_with_source(provider, session, environ, secrets_paths)[0]


def key_status(session: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Where each provider's key comes from (never the key itself), for the page to show."""
    return {p: resolve_key_with_source(p, session)[1] for p in PROVIDERS}


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message (and traceback text) redacted.

    >>> handler = logging.StreamHandler(); handler.addFilter(RedactingFilter())
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_installed = False


def install_log_redaction() -> None:
    """Redact every log record this process creates (idempotent).

    Filters on a logger do not see records from its children (``openai._base_client``,
    ``httpx``), so the filter runs in the record factory: nothing is logged unredacted.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()
    redactor = RedactingFilter()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        redactor.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True

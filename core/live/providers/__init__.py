"""Provider adapters behind one interface, chosen by the prefix of ``PROVIDER:MODEL``.

>>> parse_model_id("anthropic:claude-haiku-4-5")
('anthropic', 'claude-haiku-4-5')
>>> parse_model_id("local:llama3.1:8b")          # Ollama tags keep their colon
('local', 'llama3.1:8b')

``get_provider(name, api_key=None, base_url=None, timeout=60.0)`` builds the adapter; the key
defaults to the one :mod:`core.live.keys` resolves (session dict, environment, secrets.toml) and the
base URL to ``<PROVIDER>_BASE_URL`` (:mod:`core.settings`).
"""
from __future__ import annotations

from collections.abc import Mapping

from core.errors import InputError
from core.live.providers.base import ChatRequest, ChatResponse, Provider, ProviderError
from core.live.providers.common import DEFAULT_TIMEOUT
from core.settings import PROVIDERS as PROVIDER_SETTINGS

PROVIDERS = tuple(PROVIDER_SETTINGS)

__all__ = ["PROVIDERS", "ChatRequest", "ChatResponse", "Provider", "ProviderError", "get_provider",
           "parse_model_id"]


def _unknown(name: str, model_id: str | None = None) -> InputError:
    what = f"model '{model_id}'" if model_id is not None else f"provider '{name}'"
    return InputError(f"Unknown provider in {what}: expected one of {', '.join(PROVIDERS)} "
                      "(write models as PROVIDER:MODEL, e.g. anthropic:claude-haiku-4-5)")


def parse_model_id(model_id: str) -> tuple[str, str]:
    """Split ``PROVIDER:MODEL`` at the first colon; InputError for a missing or unknown provider."""
    text = (model_id or "").strip()
    provider, sep, model = text.partition(":")
    provider = provider.strip().lower()
    if not sep or not model.strip():
        raise InputError(f"Model '{text}' has no provider: write PROVIDER:MODEL with PROVIDER one of "
                         f"{', '.join(PROVIDERS)} (e.g. openai:gpt-4.1-mini)")
    if provider not in PROVIDERS:
        raise _unknown(provider, text)
    return provider, model.strip()


def get_provider(name: str, api_key: str | None = None, base_url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, session_keys: Mapping[str, str] | None = None
                 ) -> Provider:
    """The adapter for ``name``; ``api_key`` None means: resolve it (see :mod:`core.live.keys`)."""
    name = (name or "").strip().lower()
    if name not in PROVIDERS:
        raise _unknown(name)
    from core.live.keys import install_log_redaction, register_secret, resolve_key

    # Anything that makes live calls gets redacted logs: SDKs and httpx log at debug level.
    install_log_redaction()
    if api_key is None:
        api_key = resolve_key(name, session=session_keys)
    else:
        register_secret(api_key)
    if name == "anthropic":
        from core.live.providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider(api_key=api_key, base_url=base_url, timeout=timeout)
    if name == "gemini":
        from core.live.providers.gemini_provider import GeminiProvider

        return GeminiProvider(api_key=api_key, base_url=base_url, timeout=timeout)
    from core.live.providers.openai_provider import OpenAIProvider

    return OpenAIProvider(api_key=api_key, base_url=base_url, timeout=timeout, name=name)

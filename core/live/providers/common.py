"""What every adapter shares: base URLs and timeouts from the environment, retry-after parsing,
and turning transport failures into :class:`ProviderError` with redacted messages.
"""
from __future__ import annotations

import asyncio
import email.utils
import json
import time

import aiohttp
import httpx
import pydantic

try:  # the SDKs moved to httpx2 (a fork under its own namespace); accept both
    import httpx2
except ImportError:  # pragma: no cover - depends on the installed SDK versions
    httpx2 = None

from core.live.keys import redact, secrets_setting
from core.live.providers.base import ProviderError
from core.settings import PROVIDERS, env_text

DEFAULT_TIMEOUT = 60.0  # seconds per call; the runner may pass its own

# google-genai makes its async calls with aiohttp when aiohttp is installed (the gateway needs it)
_TIMEOUTS = tuple(m.TimeoutException for m in (httpx, httpx2) if m is not None) + (
    asyncio.TimeoutError, TimeoutError, aiohttp.ServerTimeoutError)
_TRANSPORT = tuple(m.TransportError for m in (httpx, httpx2) if m is not None) + (
    ConnectionError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)

# A body that is not JSON, or JSON of the wrong shape (pydantic); google-genai's wrapper of either
# is added where it is checked (importing google-genai costs half a second: the gateway never does).
_UNREADABLE: tuple = (json.JSONDecodeError, pydantic.ValidationError)

# Which failures a retry can cure. Malformed bodies and bad requests come back the same way.
RETRYABLE = {"rate_limited": True, "server_error": True, "timeout": True, "connection": True,
             "auth": False, "bad_request": False, "malformed": False}


def base_url_for(provider: str, base_url: str | None = None) -> str | None:
    """An explicit base URL, else ``<PROVIDER>_BASE_URL`` from the environment or secrets.toml,
    else None (the SDK's default; for ``local``, Ollama's address)."""
    if base_url:
        return base_url.rstrip("/")
    settings = PROVIDERS.get(provider)
    if settings is None:
        return None
    value = env_text(settings.url_env) or secrets_setting(settings.url_env)
    return value.rstrip("/") if value else settings.default_url


def parse_retry_after(headers) -> float | None:
    """Seconds to wait, from ``retry-after-ms``, ``retry-after`` (seconds or an HTTP date).

    >>> parse_retry_after({"retry-after": "2"})
    2.0
    >>> parse_retry_after({"retry-after-ms": "150"})
    0.15
    """
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lower:
        try:
            return max(0.0, float(lower["retry-after-ms"]) / 1000.0)
        except ValueError:
            pass
    value = lower.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def kind_for_status(status: int) -> str:
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server_error"
    return "bad_request"


def make_error(provider: str, kind: str, message: str, api_key: str | None = None,
               status: int | None = None, retry_after: float | None = None,
               request_id: str | None = None) -> ProviderError:
    """A ProviderError whose message carries no key (the SDKs sometimes echo part of it)."""
    extra = {"request_id": request_id} if request_id else {}
    text = redact(" ".join(str(message).split()), extra=[api_key])
    if len(text) > 500:
        text = text[:497] + "..."
    return ProviderError(provider=provider, kind=kind, message=text, status=status,
                         retryable=RETRYABLE.get(kind, False), retry_after=retry_after, extra=extra)


def transport_error(provider: str, exc: BaseException, api_key: str | None) -> ProviderError | None:
    """Map failures that are not the SDK's own HTTP errors (raw httpx, JSON, timeouts)."""
    if isinstance(exc, _TIMEOUTS):
        return make_error(provider, "timeout", f"no answer within the time limit ({type(exc).__name__})",
                          api_key)
    if isinstance(exc, _TRANSPORT):
        return make_error(provider, "connection", f"could not reach the server: {exc}", api_key)
    from google.genai.errors import UnknownApiResponseError

    if isinstance(exc, (*_UNREADABLE, UnknownApiResponseError)):
        return make_error(provider, "malformed", f"the response could not be read: {exc}", api_key)
    return None


class LoopBoundClient:
    """Holds one SDK client per event loop.

    An SDK's async HTTP pool belongs to the loop that opened it; Streamlit reruns and
    ``asyncio.run`` start new loops, so a provider reused across them makes a fresh client.
    """

    _sdk = None
    _loop = None

    def _make_client(self):  # overridden by each adapter
        raise TypeError(f"{type(self).__name__} does not build an SDK client")

    def client(self):
        loop = asyncio.get_running_loop()
        if self._sdk is None or self._loop is not loop:
            self._sdk, self._loop = self._make_client(), loop
        return self._sdk

    async def aclose(self) -> None:
        sdk, self._sdk, self._loop = self._sdk, None, None
        close = getattr(sdk, "close", None) or getattr(sdk, "aclose", None)
        if close is not None:
            result = close()
            if asyncio.iscoroutine(result):
                await result


async def call_stainless_sdk(provider, sdk, call):
    """Await ``call()`` on an anthropic or openai client, mapping their shared exceptions.

    Both SDKs are generated by Stainless and raise the same classes (``APIStatusError``,
    ``APITimeoutError``, ``APIConnectionError``, ``APIResponseValidationError``), so one mapping
    serves both. ``provider`` supplies ``name``, ``timeout``, ``base_url``, ``api_key`` and
    ``_status_error(exc)`` for its own status-code details.
    """
    try:
        return await call()
    except sdk.APIStatusError as exc:
        raise provider._status_error(exc) from None
    except sdk.APITimeoutError:
        raise make_error(provider.name, "timeout", f"no answer within {provider.timeout:g} s",
                         provider.api_key) from None
    except sdk.APIConnectionError as exc:
        raise make_error(provider.name, "connection",
                         f"could not reach {provider.base_url or 'the API'}: {exc.__cause__ or exc}",
                         provider.api_key) from None
    except sdk.APIResponseValidationError as exc:
        raise make_error(provider.name, "malformed", str(exc), provider.api_key) from None
    except ProviderError:
        raise
    except Exception as exc:  # raw transport / JSON failures under the SDK
        mapped = transport_error(provider.name, exc, provider.api_key)
        if mapped is None:
            raise
        raise mapped from None

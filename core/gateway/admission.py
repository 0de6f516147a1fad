"""Admission: the per-request step before any provider is called.

Each step sees the request and the resolved target and may let it through (return None),
refuse it (:class:`Refuse`: a 429, 401 or 403 with a message saying why) or send it to another
target (:class:`Swap`, e.g. a cheaper saved policy when a budget is nearly spent). Budgets and
gateway keys plug in here; the default gateway has no step::

    async def keys_step(request: AdmissionRequest) -> Refuse | Swap | None:
        if request.headers.get("authorization") != "Bearer good":
            return Refuse(401, "unknown gateway key", code="invalid_api_key")
        return None

    engine.admission.append(keys_step)
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.gateway.request import ChatInput


@dataclass(frozen=True)
class Refuse:
    status: int  # 429 (budget), 401 (no or unknown key), 403 (key not allowed), ...
    message: str
    code: str | None = None
    retry_after_s: float | None = None
    type: str = "admission_refused"  # OpenAI's error type (e.g. invalid_request_error for a 401)
    headers: dict[str, str] | None = None  # more response headers (x-should-retry: false)


@dataclass(frozen=True)
class Swap:
    model: str  # the target to serve instead: tradeoff/NAME or PROVIDER:MODEL
    reason: str


@dataclass(frozen=True)
class AdmissionRequest:
    chat: ChatInput
    headers: Mapping[str, str]
    target: Any  # core.gateway.engine.Target


AdmissionStep = Callable[[AdmissionRequest], Awaitable[Refuse | Swap | None]]

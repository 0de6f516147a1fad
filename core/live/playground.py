"""One prompt to several models side by side, each call in the ledger (``source='playground'``).

::

    frame = send_prompt(ws, "Summarize: ...", ["openai:gpt-4.1-mini", "anthropic:claude-haiku-4-5"])
    frame[["model", "output", "input_tokens", "output_tokens", "cost_usd", "latency_ms", "status"]]

Calls run concurrently; a failing model shows its (redacted) error and never hides the others.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable

import pandas as pd

from core.live.providers.base import ChatRequest, Provider, ProviderError
from core.spend.ledger import record_calls
from core.workspace import Workspace

COLUMNS = ["model", "output", "input_tokens", "output_tokens", "cached_input_tokens", "cost_usd",
           "latency_ms", "status", "error", "request_id"]


async def _one(provider: Provider, provider_name: str, request: ChatRequest, secrets: list[str]):
    from core.live.keys import redact

    started = time.perf_counter()
    try:
        response = await provider.complete(request)
    except ProviderError as exc:
        return None, exc.kind, redact(str(exc), extra=secrets), (time.perf_counter() - started) * 1000
    except Exception as exc:  # an SDK surprise is shown, not raised
        return None, "error", redact(f"{type(exc).__name__}: {exc}", extra=secrets), \
            (time.perf_counter() - started) * 1000
    finally:
        with contextlib.suppress(Exception):
            await provider.aclose()
    return response, "ok", None, response.latency_ms or (time.perf_counter() - started) * 1000


def send_prompt(ws: Workspace, prompt: str, models: list[str], *, system: str | None = None,
                max_tokens: int = 512, temperature: float = 0.0,
                keys: dict[str, str] | None = None, timeout: float = 60.0,
                provider_factory: Callable[[str], Provider] | None = None,
                experiment: str | None = None) -> pd.DataFrame:
    """Send ``prompt`` to every model at once; returns one row per model (order kept)."""
    from core.errors import InputError
    from core.live.providers import get_provider, parse_model_id
    from core.live.run import response_cost
    from core.pricing.edits import catalog_for

    if not prompt or not prompt.strip():
        raise InputError("Write a prompt to send")
    if not models:
        raise InputError("Choose at least one model (provider:model)")
    keys = dict(keys or {})
    parsed = [parse_model_id(m) for m in models]
    catalog = catalog_for(ws)

    def make(provider: str) -> Provider:
        if provider_factory is not None:
            return provider_factory(provider)
        return get_provider(provider, api_key=keys.get(provider), timeout=timeout)

    async def gather():
        tasks = []
        for provider, model in parsed:
            request = ChatRequest(model=model, user=prompt, system=system or None,
                                  max_tokens=int(max_tokens), temperature=float(temperature))
            tasks.append(_one(make(provider), provider, request, list(keys.values())))
        return await asyncio.gather(*tasks)

    outcomes = asyncio.run(gather())
    now = pd.Timestamp.now("UTC").tz_localize(None)
    rows, ledger = [], []
    for model_id, (provider, model), (response, status, error, latency) in zip(models, parsed, outcomes):
        cost = response_cost(catalog, provider, model, response) if response is not None else 0.0
        row = {"model": model_id, "output": response.text if response else None,
               "input_tokens": response.input_tokens if response else 0,
               "output_tokens": response.output_tokens if response else 0,
               "cached_input_tokens": response.cached_read_tokens if response else 0,
               "cost_usd": cost, "latency_ms": latency, "status": status, "error": error,
               "request_id": response.request_id if response else None}
        rows.append(row)
        ledger.append({
            "call_id": f"playground|{uuid.uuid4().hex}", "ts": now, "provider": provider,
            "model": model, "task": "playground", "eval_run": None,
            "input_tokens": row["input_tokens"], "output_tokens": row["output_tokens"],
            "cached_input_tokens": row["cached_input_tokens"],
            "cache_write_tokens": response.cached_write_tokens if response else 0,
            "cost_usd": cost, "latency_ms": latency, "status": status, "cache_hit": False,
            "source": "playground", "experiment": experiment, "request_id": row["request_id"],
            "cost_basis": "catalog"})
    record_calls(ws, pd.DataFrame(ledger))
    return pd.DataFrame(rows, columns=COLUMNS)

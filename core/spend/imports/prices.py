"""Unit prices (USD per token) from the app catalog (core.pricing.catalog, else genai-prices), for usage rows without a cost.

>>> from core.pricing.catalog import default_catalog
>>> prices = catalog_prices(pd.DataFrame({"provider": ["openai"], "model": ["gpt-4o"]}), default_catalog())
>>> [round(float(prices.at[0, c]) * 1e6, 3) for c in ("input", "cache_read", "cache_write", "output")]
[2.5, 1.25, 2.5, 10.0]

One catalog look-up per distinct (provider, model), never per row; unknown models get NaN.
"""
from __future__ import annotations

import math

import pandas as pd

from core.pricing.catalog import Catalog

_PROBE = 1_000_000


def _unit(catalog: Catalog, model: str, provider: str | None) -> dict[str, float]:
    p = catalog.price_for(model)  # the workspace's catalog first: overrides and price edits
    if p is not None:
        m = 1.0 * _PROBE
        return {"input": float(p.cost(m, 0, 0, 0)) / m, "cache_read": float(p.cost(m, 0, m, 0)) / m,
                "cache_write": float(p.cost(m, 0, 0, m)) / m, "output": float(p.cost(0, m, 0, 0)) / m}
    from genai_prices import Usage, calc_price

    def price(**usage) -> float:
        return float(calc_price(Usage(**usage), model_ref=model, provider_id=provider).total_price) / _PROBE

    try:
        return {"input": price(input_tokens=_PROBE),
                # genai-prices counts cache reads/writes inside input_tokens
                "cache_read": price(input_tokens=_PROBE, cache_read_tokens=_PROBE),
                "cache_write": price(input_tokens=_PROBE, cache_write_tokens=_PROBE),
                "output": price(output_tokens=_PROBE)}
    except Exception:  # genai-prices raises LookupError/ValueError subclasses for unknown models
        return {"input": math.nan, "cache_read": math.nan, "cache_write": math.nan, "output": math.nan}


def catalog_prices(pairs: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Per (provider, model): USD per input, cache-read, cache-write and output token."""
    rows = []
    for provider, model in pairs[["provider", "model"]].itertuples(index=False):
        provider = None if provider is None or (isinstance(provider, float) and math.isnan(provider)) \
            else str(provider)
        unit = _unit(catalog, str(model), provider)
        if math.isnan(unit["input"]) and provider is not None:
            unit = _unit(catalog, str(model), None)  # the export's provider name may not be the catalog's
        rows.append({"provider": provider, "model": model, **unit})
    return pd.DataFrame(rows, columns=["provider", "model", "input", "cache_read", "cache_write",
                                       "output"])

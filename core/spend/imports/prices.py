"""Unit prices (USD per token) from the workspace's catalog, for imported rows without a cost.

One row per (provider, model, batch): the base rates, the long-context tier's rates (``*_long``,
NULL when the model has no tier) and where that tier starts, for the import's SQL to pick from
(:mod:`core.pricing.usage` holds the rules). One catalog look-up per distinct model, never per
row; a model the catalog does not know gets no rates, so its rows' cost stays unknown.

>>> from core.pricing.catalog import default_catalog
>>> pairs = pd.DataFrame({"provider": ["openai"] * 2, "model": ["gpt-4o"] * 2, "batch": [False, True]})
>>> prices = catalog_prices(pairs, default_catalog())
>>> [[round(float(prices.at[i, c]) * 1e6, 3) for c in ("input", "cache_read", "output")] for i in (0, 1)]
[[2.5, 1.25, 10.0], [1.25, 1.25, 5.0]]
"""
from __future__ import annotations

import math

import pandas as pd

from core.pricing.catalog import Catalog
from core.pricing.sources import ModelPrice
from core.pricing.usage import RATES, batch_price, long_context_start, unit_rates

COLUMNS = ["provider", "model", "batch", "long_start", *RATES, *(f"{r}_long" for r in RATES)]


def _price(catalog: Catalog, model: str, provider: str | None) -> ModelPrice | None:
    # The workspace's catalog (edits, overrides, genai-prices); the export's provider first,
    # then the bare name (an export's provider name may not be the catalog's).
    found = catalog.price_for(f"{provider}:{model}") if provider else None
    return found if found is not None else catalog.price_for(model)


def catalog_prices(pairs: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Per (provider, model, batch): USD per token of each kind, base and long-context."""
    rows = []
    for provider, model, batch in pairs[["provider", "model", "batch"]].itertuples(index=False):
        provider = None if provider is None or (isinstance(provider, float) and math.isnan(provider)) \
            else str(provider)
        price = _price(catalog, str(model), provider)
        if price is None:
            rows.append({"provider": provider, "model": model, "batch": bool(batch)})
            continue
        if batch:
            price = batch_price(price)
        long = unit_rates(price, long_context=True) if price.tiers else {}
        rows.append({"provider": provider, "model": model, "batch": bool(batch),
                     "long_start": long_context_start(price), **unit_rates(price, long_context=False),
                     **{f"{k}_long": v for k, v in long.items()}})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({"long_start": "Int64", **{c: float for c in COLUMNS[4:]}})

"""Unit prices of usage rows: the tier a row's requests had, as the report states it.

Provider usage reports sum many requests per row, so a row's token total says nothing about the
size of any one request. The long-context tier (e.g. Claude's over-200k-token prompts) applies to
a row only when the report says its requests had it (Anthropic's ``context_window``), never
because the row's summed tokens pass the tier's threshold; a single call pays the tier its own
input tokens reach (the provider's rule, as :meth:`ModelPrice.cost` applies it).

Where a price list has no rate of its own, these rules (the providers' published multipliers)
apply, and only here:

* :data:`BATCH_DISCOUNT`: OpenAI's Batch API and Anthropic's Message Batches charge 50% of the
  standard rates (cache reads and writes included). genai-prices' own batch price of a model is
  used when it has one (:func:`core.pricing.sources.genai_batch_price`); a price from the
  override file or a workspace edit is halved.
* :data:`CACHE_WRITE_1H`: Anthropic's one-hour cache writes cost 2x the base input price
  (five-minute writes cost 1.25x: the catalog's ``cached_write_per_mtok``).

>>> from core.pricing.catalog import default_catalog
>>> sonnet = default_catalog().price_for("anthropic:claude-sonnet-4-5-20250929")
>>> {k: round(v * 1e6, 4) for k, v in unit_rates(sonnet, long_context=False).items()}
{'input': 3.0, 'cache_read': 0.3, 'cache_write': 3.75, 'cache_write_1h': 6.0, 'output': 15.0}
>>> {k: round(v * 1e6, 4) for k, v in unit_rates(batch_price(sonnet), long_context=False).items()}
{'input': 1.5, 'cache_read': 0.15, 'cache_write': 1.875, 'cache_write_1h': 3.0, 'output': 7.5}
"""
from __future__ import annotations

from core.pricing.sources import ModelPrice, genai_batch_price

BATCH_DISCOUNT = 0.5
CACHE_WRITE_1H = 2.0
RATES = ("input", "cache_read", "cache_write", "cache_write_1h", "output")


def batch_price(price: ModelPrice) -> ModelPrice:
    """The batch price of a model: genai-prices' own when it has one, else 50% of ``price``."""
    if price.layer == "genai-prices" and price.provider:
        own = genai_batch_price(price.provider, price.model)
        if own is not None:
            return own
    return price.scaled(BATCH_DISCOUNT, "batch: 50% of the standard price")


def long_context_start(price: ModelPrice) -> int | None:
    """Input tokens above which one request pays the long-context tier (None: no tier)."""
    return price.tiers[0].start if price.tiers else None


def unit_rates(price: ModelPrice, long_context: bool) -> dict[str, float]:
    """USD per token of each kind, at the base rates or at the long-context (first) tier.

    A cached rate the price list leaves out is the input rate (cache reads and five-minute
    writes), or :data:`CACHE_WRITE_1H` times it (one-hour writes).
    """
    rates = price.tiers[0] if long_context and price.tiers else price
    inp = rates.input_per_mtok
    per_mtok = {
        "input": inp,
        "cache_read": inp if rates.cached_read_per_mtok is None else rates.cached_read_per_mtok,
        "cache_write": inp if rates.cached_write_per_mtok is None else rates.cached_write_per_mtok,
        "cache_write_1h": (CACHE_WRITE_1H * inp if rates.cached_write_1h_per_mtok is None
                           else rates.cached_write_1h_per_mtok),
        "output": rates.output_per_mtok,
    }
    return {k: float(v) / 1e6 for k, v in per_mtok.items()}

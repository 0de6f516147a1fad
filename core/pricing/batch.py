"""Batch APIs: which models have one, at what price, and how long an answer may take.

A batch API answers a file of requests within a day at a discount. The price is genai-prices'
own batch price of the model where it has one; else, for a provider whose batch discount is a
documented rule (Anthropic, OpenAI, Google: 50% of the standard rates, :data:`core.pricing.usage.BATCH_DISCOUNT`),
the model's price in effect (an override or a workspace edit) at that discount. Self-hosted
models have no provider batch API.

>>> from core.pricing.catalog import default_catalog
>>> offer = batch_offer("gpt-4o-mini", default_catalog().price_for("gpt-4o-mini"))
>>> offer.available, offer.price.input_per_mtok, offer.price.output_per_mtok, offer.turnaround_h
(True, 0.075, 0.3, 24.0)
>>> batch_offer("local:llama-3.1-8b", default_catalog().price_for("local:llama-3.1-8b")).available
False
"""
from __future__ import annotations

from dataclasses import dataclass

from core.pricing.sources import GENAI_PRICES_VERSION, ModelPrice, genai_batch_price, split_name
from core.pricing.usage import batch_price

__all__ = ["TURNAROUND_H", "BatchOffer", "batch_offer", "BATCH_RULES"]

TURNAROUND_H = 24.0  # every provider below promises results within 24 hours
BATCH_RULES = {
    "openai": "OpenAI Batch API (platform.openai.com/docs/guides/batch): 50% off, results within 24 h",
    "anthropic": ("Anthropic Message Batches (docs.anthropic.com, build-with-claude/batch-processing): "
                  "50% of standard prices, results within 24 h"),
    "google": ("Gemini Batch Mode (ai.google.dev/gemini-api/docs/batch-mode): 50% of the standard "
               "price, target turnaround 24 h"),
}


@dataclass(frozen=True)
class BatchOffer:
    """A model's batch price (None when it has no batch API) and where that price comes from."""

    model: str
    available: bool
    price: ModelPrice | None
    source: str
    turnaround_h: float = TURNAROUND_H


def batch_offer(model: str, price: ModelPrice | None) -> BatchOffer:
    """The batch price of ``model`` whose standard price in effect is ``price``."""
    if price is None:
        return BatchOffer(model, False, None, "no price in the catalog")
    provider = price.provider or split_name(model)[0] or ""
    if price.layer == "genai-prices" and price.provider:
        own = genai_batch_price(price.provider, price.model)
        if own is not None:
            return BatchOffer(model, True, own, f"genai-prices {GENAI_PRICES_VERSION} batch price")
    rule = BATCH_RULES.get(provider)
    if rule is None:
        why = ("self-hosted: no provider batch API" if provider == "local"
               else f"no batch price known for provider '{provider or 'unknown'}'")
        return BatchOffer(model, False, None, why)
    return BatchOffer(model, True, batch_price(price),
                      f"{price.layer} price at the documented 50%: {rule}")

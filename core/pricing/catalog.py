"""Prices of LLM calls: the catalog object every cost is computed with.

A :class:`Catalog` combines three layers, highest precedence first: edits stored in a workspace
(:mod:`core.pricing.edits`), the shipped override file ``data/price_overrides.json`` (custom
and self-hosted models), and the offline ``genai-prices`` package. It is passed to whatever
prices a call (the eval-set loader, live runs, the ledger importer, the gateway), never kept
as process-wide state: ``default_catalog()`` has the file and genai-prices only, and
``core.pricing.edits.catalog_for(ws)`` adds a workspace's edits. Model names may be bare
(``gpt-4o-mini``) or carry a provider (``openai:gpt-4o-mini``, ``anthropic/claude-haiku-4-5``,
``gemini:gemini-2.5-flash``, ``local:llama-3.1-8b``).

``input_tokens`` counts every prompt token, cached ones included (genai-prices' and OpenAI's
convention); cached tokens are the part of them priced at the cached rate.

>>> cat = default_catalog()
>>> cat.call_cost("gpt-4o-mini", 1_000_000, 1_000_000)          # $0.15 in + $0.60 out
0.75
>>> cat.cost("openai:gpt-4o-mini", np.array([2000.0]), np.array([100.0]), np.array([1000.0]))
array([0.000285])
>>> np.isnan(cat.cost("no-such-model", np.array([1.0]), np.array([1.0]), np.array([0.0])))
array([ True])
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from core.pricing.sources import (
    GENAI_PRICES_VERSION,
    PRICE_FIELDS,
    ModelPrice,
    Tier,
    genai_catalog,
    genai_data_date,
    genai_price,
    lookup_keys,
    overrides_path,
    read_override_file,
)

__all__ = ["ModelPrice", "Tier", "Catalog", "default_catalog", "price_snapshot_date",
           "search_catalog"]

FRAME_COLUMNS = ["model", "provider", "input_per_mtok", "output_per_mtok", "cached_read_per_mtok",
                 "cached_write_per_mtok", "tiers", "layer", "in_effect", "estimate", "source",
                 "snapshot_date", "note"]


class Catalog:
    """Prices from workspace edits > override file > genai-prices, looked up by model name.

    >>> Catalog().price_for("claude-haiku-4-5").input_per_mtok
    1.0
    """

    def __init__(self, edits: tuple[ModelPrice, ...] = (), file_prices: tuple[ModelPrice, ...] | None = None):
        self.edits = tuple(edits)
        self.file_prices = read_override_file() if file_prices is None else tuple(file_prices)
        self._indexes = [_index(self.edits), _index(self.file_prices)]
        self._cache: dict[str, ModelPrice | None] = {}

    def price_for(self, model: str) -> ModelPrice | None:
        name = str(model).strip()
        if name in self._cache:
            return self._cache[name]
        keys = lookup_keys(name)
        found = None
        for index in self._indexes:
            found = next((index[k] for k in keys if k in index), None)
            if found is not None:
                break
        if found is None:
            found = genai_price(name)
        self._cache[name] = found
        return found

    def cost(self, model: str, input_tokens, output_tokens, cached_read_tokens=0,
             cached_write_tokens=0) -> np.ndarray:
        price = self.price_for(model)
        if price is None:
            return np.full(np.shape(np.asarray(input_tokens, dtype=float)), np.nan)
        return price.cost(input_tokens, output_tokens, cached_read_tokens, cached_write_tokens)

    def call_cost(self, model: str, input_tokens: float, output_tokens: float,
                  cached_read_tokens: float = 0, cached_write_tokens: float = 0) -> float | None:
        """USD for one call, or None when the model has no price."""
        price = self.price_for(model)
        if price is None:
            return None
        return round(float(price.cost(input_tokens, output_tokens, cached_read_tokens,
                                      cached_write_tokens)), 12)

    def snapshot_label(self) -> str:
        """One line naming every price source in effect, e.g. for a report footer."""
        parts = [f"genai-prices {GENAI_PRICES_VERSION} (prices checked up to {genai_data_date()})"]
        if self.file_prices:
            dates = sorted({p.snapshot_date for p in self.file_prices if p.snapshot_date})
            parts.append(f"{overrides_path().name}: {len(self.file_prices)} model(s)"
                         + (f", {dates[-1]}" if dates else ""))
        if self.edits:
            parts.append(f"{len(self.edits)} price edit(s) in the workspace")
        return "; ".join(parts)

    def shadowed(self, price: ModelPrice) -> bool:
        """Whether a lower-layer price is hidden by an edit or the override file."""
        layers = {"workspace edit": 0, "override file": 1, "genai-prices": 2}[price.layer]
        name = f"{price.provider}:{price.model}" if price.provider and price.layer == "genai-prices" else price.model
        keys = lookup_keys(name)
        return any(k in index for index in self._indexes[:layers] for k in keys)

    def frame(self) -> pd.DataFrame:
        """Every price as one table row (edits, then the override file, then genai-prices)."""
        own = pd.DataFrame([_row(p, not self.shadowed(p)) for p in self.edits + self.file_prices],
                           columns=FRAME_COLUMNS)
        genai = _genai_frame().copy()
        if own.empty:
            return genai.astype({f: float for f in PRICE_FIELDS}).reset_index(drop=True)
        hidden = set()
        for index in self._indexes:
            hidden.update(index)
        qualified = (genai["provider"].fillna("") + ":" + genai["model"]).str.lower()
        genai["in_effect"] = ~(qualified.isin(hidden) | genai["model"].str.lower().isin(hidden))
        frame = pd.concat([own, genai], ignore_index=True)
        return frame.astype({f: float for f in PRICE_FIELDS})


def _index(prices: tuple[ModelPrice, ...]) -> dict[str, ModelPrice]:
    index: dict[str, ModelPrice] = {}
    for p in prices:  # bare names first, so another entry's provider-qualified name wins
        for key in lookup_keys(p.model)[1:]:
            index.setdefault(key, p)
    for p in prices:
        index[lookup_keys(p.model)[0]] = p
        for alias in p.aliases:
            index[lookup_keys(alias, with_bare=False)[0]] = p
    return index


def _row(p: ModelPrice, in_effect: bool) -> dict:
    return {"model": p.model, "provider": p.provider, "input_per_mtok": p.input_per_mtok,
            "output_per_mtok": p.output_per_mtok, "cached_read_per_mtok": p.cached_read_per_mtok,
            "cached_write_per_mtok": p.cached_write_per_mtok, "tiers": p.tiers_text(),
            "layer": p.layer, "in_effect": in_effect, "estimate": p.estimate, "source": p.source,
            "snapshot_date": p.snapshot_date, "note": p.note}


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The shipped prices (override file + genai-prices), no workspace edits. Read once."""
    return Catalog()


def price_snapshot_date() -> str:
    """When the genai-prices data was taken (``YYYY-MM-DD``), for reports and memos."""
    return genai_data_date()


@lru_cache(maxsize=1)
def _genai_frame() -> pd.DataFrame:
    frame = pd.DataFrame([_row(p, True) for p in genai_catalog()], columns=FRAME_COLUMNS)
    return frame.astype({"cached_read_per_mtok": float, "cached_write_per_mtok": float})


def search_catalog(frame: pd.DataFrame, query: str = "", providers: list[str] | None = None,
                   include_hidden: bool = False) -> pd.DataFrame:
    """Rows of :func:`catalog_frame` whose model or provider contains ``query`` (case-insensitive).

    >>> f = pd.DataFrame({"model": ["gpt-4o-mini", "claude-haiku-4-5"], "provider": ["openai", "anthropic"],
    ...                   "in_effect": [True, True]})
    >>> search_catalog(f, "HAIKU")["model"].tolist()
    ['claude-haiku-4-5']
    """
    keep = pd.Series(True, index=frame.index)
    if not include_hidden:
        keep &= frame["in_effect"].astype(bool)
    if providers:  # models without a provider (custom names) always show
        keep &= frame["provider"].isin(providers) | frame["provider"].isna()
    text = (query or "").strip().lower()
    if text:
        keep &= (frame["model"].str.lower().str.contains(text, regex=False)
                 | frame["provider"].fillna("").str.lower().str.contains(text, regex=False))
    return frame[keep].reset_index(drop=True)

"""Prices of LLM calls: the catalog, the cost of a call from its tokens, and edits made in the app.

The catalog combines three layers, highest precedence first: edits stored in the workspace,
the shipped override file ``data/price_overrides.json`` (custom and self-hosted models), and the
offline ``genai-prices`` package. Model names may be bare (``gpt-4o-mini``) or carry a provider
(``openai:gpt-4o-mini``, ``anthropic/claude-haiku-4-5``, ``gemini:gemini-2.5-flash``,
``local:llama-3.1-8b``).

``input_tokens`` counts every prompt token, cached ones included (genai-prices' and OpenAI's
convention); cached tokens are the part of them priced at the cached rate.

>>> call_cost("gpt-4o-mini", 1_000_000, 1_000_000)          # $0.15 in + $0.60 out
0.75
>>> catalog_cost("openai:gpt-4o-mini", np.array([2000.0]), np.array([100.0]), np.array([1000.0]))
array([0.000285])
>>> np.isnan(catalog_cost("no-such-model", np.array([1.0]), np.array([1.0]), np.array([0.0])))
array([ True])

The process-wide catalog uses the edits of the workspace last passed to
:func:`activate_workspace` (the app does so whenever it opens its workspace).
"""
from __future__ import annotations

import json
import threading
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pandas as pd

from core.errors import InputError, Problem
from core.pricing.sources import (
    PRICE_FIELDS, GENAI_PRICES_VERSION, ModelPrice, Tier, check_price, check_tiers, genai_catalog,
    genai_data_date, genai_price, lookup_keys, overrides_path, price_from_edit, read_override_file,
    split_name,
)
from core.workspace import Workspace

__all__ = [
    "ModelPrice", "Tier", "Catalog", "activate_workspace", "active_catalog", "catalog_cost",
    "call_cost", "price_for", "catalog_frame", "set_override", "delete_override",
    "price_snapshot_date", "price_snapshot_label", "reprice", "search_catalog", "load_edits",
    "MIGRATIONS",
]

MIGRATIONS = [
    """
    create table pricing_overrides (
        model_key varchar primary key,      -- normalized lookup key: provider:model or model
        model varchar not null,             -- the name as the user typed it
        provider varchar,
        input_per_mtok double not null,
        output_per_mtok double not null,
        cached_read_per_mtok double,        -- null: cached reads cost the input price
        cached_write_per_mtok double,       -- null: cache writes cost the input price
        tiers json,
        note varchar,
        updated_at timestamp not null default current_timestamp
    );
    """,
]

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
def _genai_frame() -> pd.DataFrame:
    frame = pd.DataFrame([_row(p, True) for p in genai_catalog()], columns=FRAME_COLUMNS)
    return frame.astype({"cached_read_per_mtok": float, "cached_write_per_mtok": float})


# ---------------------------------------------------------------------------------------------
# The process-wide active catalog
# ---------------------------------------------------------------------------------------------
_LOCK = threading.RLock()
_active: Catalog | None = None
_active_ws: Workspace | None = None


def active_catalog() -> Catalog:
    global _active
    with _LOCK:
        if _active is None:
            _active = Catalog()
        return _active


def activate_workspace(ws: Workspace | None, *, force: bool = False) -> Catalog:
    """Use ``ws``'s price edits in the process-wide catalog (cheap when already active)."""
    global _active, _active_ws
    with _LOCK:
        if ws is _active_ws and _active is not None and not force:
            return _active
        _active = Catalog(load_edits(ws) if ws is not None else ())
        _active_ws = ws
        return _active


def load_edits(ws: Workspace) -> tuple[ModelPrice, ...]:
    """The price edits stored in a workspace, oldest first."""
    ws.ensure("pricing", MIGRATIONS)
    frame = ws.cursor().execute("select * from pricing_overrides order by updated_at, model_key").df()
    return tuple(price_from_edit(row) for row in frame.to_dict("records"))


def price_for(model: str) -> ModelPrice | None:
    """The price in effect for ``model``, or None when no layer knows it.

    >>> price_for("gemini:gemini-2.5-flash").output_per_mtok
    2.5
    """
    return active_catalog().price_for(model)


def catalog_cost(model: str, input_tokens: np.ndarray, output_tokens: np.ndarray,
                 cached_input_tokens: np.ndarray) -> np.ndarray:
    """USD per call for arrays of token counts; NaN everywhere when the model is unknown."""
    return active_catalog().cost(model, input_tokens, output_tokens, cached_input_tokens)


def call_cost(model: str, input_tokens: float, output_tokens: float, cached_read_tokens: float = 0,
              cached_write_tokens: float = 0) -> float | None:
    """USD for one call, or None when the model has no price."""
    price = price_for(model)
    if price is None:
        return None
    return round(float(price.cost(input_tokens, output_tokens, cached_read_tokens, cached_write_tokens)), 12)


def price_snapshot_date() -> str:
    """When the genai-prices data was taken (``YYYY-MM-DD``), for reports and memos."""
    return genai_data_date()


def price_snapshot_label() -> str:
    """One line naming every price source in effect, e.g. for a report footer."""
    cat = active_catalog()
    parts = [f"genai-prices {GENAI_PRICES_VERSION} (prices checked up to {genai_data_date()})"]
    if cat.file_prices:
        dates = sorted({p.snapshot_date for p in cat.file_prices if p.snapshot_date})
        parts.append(f"{overrides_path().name}: {len(cat.file_prices)} model(s)"
                     + (f", {dates[-1]}" if dates else ""))
    if cat.edits:
        parts.append(f"{len(cat.edits)} price edit(s) in the workspace")
    return "; ".join(parts)


def catalog_frame(ws: Workspace | None = None) -> pd.DataFrame:
    """The catalog as a table: one row per price, its layer, source and snapshot date."""
    if ws is None or ws is _active_ws:
        return active_catalog().frame()
    return Catalog(load_edits(ws)).frame()


# ---------------------------------------------------------------------------------------------
# Edits made in the app
# ---------------------------------------------------------------------------------------------
def set_override(ws: Workspace, model: str, input_per_mtok, output_per_mtok, cached_read_per_mtok=None,
                 cached_write_per_mtok=None, *, tiers=None, provider: str | None = None,
                 note: str = "") -> ModelPrice:
    """Store a price for ``model`` in the workspace; it wins over the file and genai-prices.

    Raises InputError naming the field for a negative or non-numeric price.
    """
    name = str(model or "").strip()
    source = "price edit"
    if not name:
        raise InputError("A price edit needs a model name",
                         [Problem(source, None, "model", "a model name", "")])
    values = {f: check_price(v, f, name, source, required=f in PRICE_FIELDS[:2]) for f, v in zip(
        PRICE_FIELDS, (input_per_mtok, output_per_mtok, cached_read_per_mtok, cached_write_per_mtok))}
    tier_list = check_tiers(tiers, name, source)
    key = lookup_keys(name)[0]
    ws.ensure("pricing", MIGRATIONS)
    with ws.transaction() as cur:
        cur.execute("delete from pricing_overrides where model_key = ?", [key])
        cur.execute(
            "insert into pricing_overrides (model_key, model, provider, input_per_mtok, output_per_mtok,"
            " cached_read_per_mtok, cached_write_per_mtok, tiers, note, updated_at)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)",
            [key, name, provider or _provider_of(name), values["input_per_mtok"], values["output_per_mtok"],
             values["cached_read_per_mtok"], values["cached_write_per_mtok"],
             json.dumps([t.__dict__ for t in tier_list]) if tier_list else None, note or None],
        )
    _refresh(ws)
    return Catalog(load_edits(ws)).price_for(name)


def _provider_of(name: str) -> str | None:
    """The provider a name carries, or the one genai-prices knows it under."""
    prefix = split_name(name)[0]
    if prefix:
        return prefix
    known = genai_price(name)
    return known.provider if known else None


def delete_override(ws: Workspace, model: str) -> bool:
    """Remove the workspace edit for ``model`` (the file or genai-prices price shows again)."""
    ws.ensure("pricing", MIGRATIONS)
    key = lookup_keys(str(model).strip())[0]
    with ws.transaction() as cur:
        n = cur.execute("select count(*) from pricing_overrides where model_key = ? or model = ?",
                        [key, str(model).strip()]).fetchone()[0]
        cur.execute("delete from pricing_overrides where model_key = ? or model = ?", [key, str(model).strip()])
    _refresh(ws)
    return n > 0


def _refresh(ws: Workspace) -> None:
    with _LOCK:
        if ws is _active_ws:
            activate_workspace(ws, force=True)


def reprice(evalset):
    """The eval set with catalog-derived costs recomputed from the current prices.

    Costs the file reported are kept; models priced from tokens get today's catalog price.
    """
    cost = evalset.cost.copy()
    sources = dict(evalset.cost_source)
    for j, model in enumerate(evalset.models):
        if evalset.cost_source.get(model) not in ("catalog", "unknown"):
            continue
        tokens = ~np.isnan(evalset.input_tokens[:, j]) | ~np.isnan(evalset.output_tokens[:, j])
        if not tokens.any():
            continue
        cost[tokens, j] = catalog_cost(model, np.nan_to_num(evalset.input_tokens[tokens, j]),
                                       np.nan_to_num(evalset.output_tokens[tokens, j]),
                                       np.nan_to_num(evalset.cached_input_tokens[tokens, j]))
        sources[model] = "catalog" if not np.isnan(cost[tokens, j]).all() else "unknown"
    return replace(evalset, cost=cost, cost_source=sources)


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

"""Price edits made in the app, stored in the workspace, and the catalog that includes them.

>>> ws = Workspace(":memory:")
>>> set_override(ws, "acme:custom", 2.0, 4.0).input_per_mtok
2.0
>>> catalog_for(ws).call_cost("acme:custom", 1_000_000, 500_000)
4.0
>>> delete_override(ws, "acme:custom"), catalog_for(ws).price_for("acme:custom") is None
(True, True)

:func:`catalog_for` is cached by the edits' fingerprint (count and newest change), checked at most
once every :data:`RECHECK_S` seconds: a process sees its own edits at once, another process's
within a second, and never re-reads an unchanged table (a page rerun asks for the catalog many
times; each check is a query of the store).
"""
from __future__ import annotations

import json
import threading
import time

from core.errors import InputError, Problem
from core.pricing.catalog import Catalog
from core.pricing.sources import (
    PRICE_FIELDS,
    ModelPrice,
    check_price,
    check_tiers,
    genai_price,
    lookup_keys,
    price_from_edit,
    split_name,
)
from core.workspace import Workspace
from core.workspace.readcache import cached_read

MIGRATIONS = [
    # v1, the DuckLake baseline: one row per model_key (edits delete, then insert, under the
    # 'pricing' lock row)
    """
    create table pricing_overrides (
        model_key varchar not null,         -- normalized lookup key: provider:model or model
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
    insert into store_locks values ('pricing', 0);
    """,
]


RECHECK_S = 1.0
_CACHE: dict[int, tuple[tuple, Workspace, Catalog, float]] = {}
_CACHE_LOCK = threading.Lock()


def _ensure(ws: Workspace) -> None:
    ws.ensure("pricing", MIGRATIONS)


def load_edits(ws: Workspace) -> tuple[ModelPrice, ...]:
    """The price edits stored in a workspace, oldest first."""
    _ensure(ws)
    frame = cached_read(ws, ("pricing_overrides",), "pricing.edits", lambda: ws.cursor().execute(
        "select * from pricing_overrides order by updated_at, model_key").df())
    return tuple(price_from_edit(row) for row in frame.to_dict("records"))


def catalog_for(ws: Workspace | None) -> Catalog:
    """The catalog with ``ws``'s price edits on top (``None``: the shipped prices only)."""
    if ws is None:
        from core.pricing.catalog import default_catalog

        return default_catalog()
    _ensure(ws)
    with _CACHE_LOCK:
        hit = _CACHE.get(id(ws))
        if hit is not None and hit[1] is ws and time.monotonic() - hit[3] < RECHECK_S:
            return hit[2]
    stamp = tuple(ws.cursor().execute(
        "select count(*), max(updated_at) from pricing_overrides").fetchall()[0])
    if hit is not None and hit[0] == stamp and hit[1] is ws:
        catalog = hit[2]
    else:
        catalog = Catalog(load_edits(ws))
    with _CACHE_LOCK:
        _CACHE[id(ws)] = (stamp, ws, catalog, time.monotonic())
    return catalog


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
    _ensure(ws)
    row = [key, name, provider or _provider_of(name), values["input_per_mtok"], values["output_per_mtok"],
           values["cached_read_per_mtok"], values["cached_write_per_mtok"],
           json.dumps([t.__dict__ for t in tier_list]) if tier_list else None, note or None]

    def body(cur):
        ws.bump(cur, "pricing")  # one row per key, also when two processes edit it at once
        cur.execute("delete from pricing_overrides where model_key = ?", [key])
        cur.execute(
            "insert into pricing_overrides (model_key, model, provider, input_per_mtok, output_per_mtok,"
            " cached_read_per_mtok, cached_write_per_mtok, tiers, note, updated_at)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)", row)

    ws.write(body)
    _forget(ws)
    return catalog_for(ws).price_for(name)


def _provider_of(name: str) -> str | None:
    """The provider a name carries, or the one genai-prices knows it under."""
    prefix = split_name(name)[0]
    if prefix:
        return prefix
    known = genai_price(name)
    return known.provider if known else None


def delete_override(ws: Workspace, model: str) -> bool:
    """Remove the workspace edit for ``model`` (the file or genai-prices price shows again)."""
    _ensure(ws)
    key = lookup_keys(str(model).strip())[0]
    n = ws.write(lambda cur: cur.execute("delete from pricing_overrides where model_key = ? or model = ?",
                                         [key, str(model).strip()]).fetchone()[0])
    _forget(ws)
    return n > 0


def _forget(ws: Workspace) -> None:
    """Drop the cached catalog (an edit within the same second keeps the same fingerprint)."""
    with _CACHE_LOCK:
        _CACHE.pop(id(ws), None)

"""Where prices come from, and what one price looks like.

Three layers, highest precedence first (combined by :mod:`core.pricing.catalog`):

1. edits made in the app, stored in the workspace (table ``pricing_overrides``);
2. the shipped override file ``data/price_overrides.json`` (custom and self-hosted models,
   e.g. a local llama priced at an estimated hosting cost, labeled as an estimate);
3. the ``genai-prices`` package: bundled, offline, with cached-input and tiered prices.

Token convention (the one genai-prices and OpenAI use): ``input_tokens`` counts every prompt
token of a call, cached ones included; ``cached_read_tokens`` and ``cached_write_tokens`` are
the parts of it read from / written to the provider's prompt cache.

>>> p = ModelPrice("m", "custom", input_per_mtok=1.0, output_per_mtok=2.0, cached_read_per_mtok=0.1)
>>> float(p.cost(1_000_000, 500_000, cached_read_tokens=400_000)[()])  # 0.6 + 0.04 + 1.0
1.64
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from functools import lru_cache
from importlib.metadata import version as _package_version
from pathlib import Path

import numpy as np

from core.errors import InputError, Problem
from core.settings import DEFAULT_PRICE_OVERRIDES, PRICE_OVERRIDES_ENV, env_path

GENAI_PRICES_VERSION = _package_version("genai-prices")
PRICE_FIELDS = ("input_per_mtok", "output_per_mtok", "cached_read_per_mtok", "cached_write_per_mtok")
# Provider prefixes the app uses that genai-prices spells differently.
PROVIDER_ALIASES = {"gemini": "google", "google-gla": "google", "google-vertex": "google",
                    "vertex": "google", "vertexai": "google", "claude": "anthropic"}
# Self-hosted tiers: never priced from a public API price list, only from overrides.
SELF_HOSTED = {"local"}


@dataclass(frozen=True)
class Tier:
    """Prices that apply to every token of a call whose input tokens exceed ``start``.

    This is the "cliff" model providers use: 200,001 input tokens pay the tier rate on all tokens.
    ``None`` for a cached rate means cached tokens cost the (tier's) input price.
    """

    start: int
    input_per_mtok: float
    output_per_mtok: float
    cached_read_per_mtok: float | None = None
    cached_write_per_mtok: float | None = None
    cached_write_1h_per_mtok: float | None = None  # Anthropic's one-hour cache writes


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens for one model, with where the numbers came from and when."""

    model: str
    provider: str | None
    input_per_mtok: float
    output_per_mtok: float
    cached_read_per_mtok: float | None = None  # None: cached reads cost the input price
    cached_write_per_mtok: float | None = None  # None: cache writes cost the input price
    tiers: tuple[Tier, ...] = ()
    source: str = "genai-prices"
    snapshot_date: str = ""
    layer: str = "genai-prices"  # genai-prices | override file | workspace edit
    note: str = ""
    estimate: bool = False  # True for self-hosted costs we estimated rather than a list price
    aliases: tuple[str, ...] = ()
    # Anthropic's one-hour cache writes (``cache_creation.ephemeral_1h_input_tokens``); None:
    # not in the price list (see core.pricing.usage for the rule used then).
    cached_write_1h_per_mtok: float | None = None

    @property
    def qualified_name(self) -> str:
        """``provider:model`` (names that already carry a provider are kept as they are)."""
        if not self.provider or split_name(self.model)[0] is not None:
            return self.model
        return f"{self.provider}:{self.model}"

    def cost(self, input_tokens, output_tokens, cached_read_tokens=0, cached_write_tokens=0) -> np.ndarray:
        """USD per call, vectorized over numpy arrays (or scalars) of token counts."""
        inp = np.asarray(input_tokens, dtype=float)
        out = np.asarray(output_tokens, dtype=float)
        read = np.clip(np.asarray(cached_read_tokens, dtype=float), 0.0, None)
        read = np.minimum(read, inp)  # cached tokens are part of the input, never more than it
        write = np.minimum(np.clip(np.asarray(cached_write_tokens, dtype=float), 0.0, None), inp - read)
        rates = {f: np.full(inp.shape, np.nan if getattr(self, f) is None else getattr(self, f))
                 for f in PRICE_FIELDS}
        for tier in self.tiers:  # ascending: the highest crossed threshold wins
            crossed = inp > tier.start
            for f in PRICE_FIELDS:
                value = getattr(tier, f)
                rates[f] = np.where(crossed, np.nan if value is None else value, rates[f])
        rate_in = rates["input_per_mtok"]
        rate_read = np.where(np.isnan(rates["cached_read_per_mtok"]), rate_in, rates["cached_read_per_mtok"])
        rate_write = np.where(np.isnan(rates["cached_write_per_mtok"]), rate_in, rates["cached_write_per_mtok"])
        total = ((inp - read - write) * rate_in + read * rate_read + write * rate_write
                 + out * rates["output_per_mtok"])
        return total / 1e6

    def scaled(self, factor: float, note: str) -> ModelPrice:
        """Every rate (tiers included) times ``factor``, e.g. a batch price at 50%.

        >>> ModelPrice("m", None, 3.0, 15.0, 0.3, tiers=(Tier(200_000, 6.0, 22.5),)).scaled(0.5, "batch").tiers[0]
        Tier(start=200000, input_per_mtok=3.0, output_per_mtok=11.25, cached_read_per_mtok=None, cached_write_per_mtok=None, cached_write_1h_per_mtok=None)
        """
        def times(value):
            return None if value is None else value * factor

        rates = ("input_per_mtok", "output_per_mtok", "cached_read_per_mtok", "cached_write_per_mtok",
                 "cached_write_1h_per_mtok")
        tiers = tuple(replace(t, **{f: times(getattr(t, f)) for f in rates}) for t in self.tiers)
        return replace(self, **{f: times(getattr(self, f)) for f in rates}, tiers=tiers,
                       note=f"{self.note}; {note}".strip("; "))

    def tiers_text(self) -> str:
        """Tiers in words, e.g. ``'>200,000 input tokens: $6 in / $22.5 out'``."""
        return "; ".join(f">{t.start:,} input tokens: ${_fmt(t.input_per_mtok)} in / "
                         f"${_fmt(t.output_per_mtok)} out" for t in self.tiers)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


# ---------------------------------------------------------------------------------------------
# Model names
# ---------------------------------------------------------------------------------------------
def split_name(name: str) -> tuple[str | None, str]:
    """``'openai:gpt-4o-mini'`` or ``'anthropic/claude-x'`` -> (provider, model); bare -> (None, model).

    A ``/`` or ``:`` only separates a provider when the prefix is one we know, so names such as
    ``meta-llama/Llama-3.1-8B`` stay whole.

    >>> split_name("gemini:gemini-2.5-flash"), split_name("gpt-4o-mini")
    (('google', 'gemini-2.5-flash'), (None, 'gpt-4o-mini'))
    """
    text = str(name).strip()
    match = re.match(r"^([A-Za-z0-9_.-]+)[:/](.+)$", text)
    if match:
        prefix = match.group(1).lower()
        provider = PROVIDER_ALIASES.get(prefix, prefix)
        if provider in SELF_HOSTED or provider in _genai_provider_ids():
            return provider, match.group(2).strip()
    return None, text


def lookup_keys(name: str, *, with_bare: bool = True) -> list[str]:
    """Normalized keys an override is found by: ``provider:model`` first, then the bare model."""
    provider, bare = split_name(name)
    keys = [f"{provider}:{bare}".lower() if provider else bare.lower()]
    if provider and with_bare and provider not in SELF_HOSTED:
        keys.append(bare.lower())
    return keys


# ---------------------------------------------------------------------------------------------
# genai-prices
# ---------------------------------------------------------------------------------------------
def _snapshot():
    from genai_prices import data_snapshot

    return data_snapshot.get_snapshot()


@lru_cache(maxsize=1)
def _genai_provider_ids() -> frozenset[str]:
    return frozenset(p.id for p in _snapshot().providers)


@lru_cache(maxsize=1)
def genai_data_date() -> str:
    """The newest date on which the bundled genai-prices data says a price was checked.

    The package ships no build date; its maintainers annotate prices with "checked/verified on
    YYYY-MM-DD", so the newest such date that is not in the future is when the data was taken.
    """
    import genai_prices.data as data_module

    text = Path(data_module.__file__).read_text(encoding="utf-8")
    today = date.today().isoformat()
    found = re.findall(r"(?:checked|verified|[Vv]erified|observed|as of)[^0-9\n]{0,25}(20\d\d-\d\d-\d\d)", text)
    past = [d for d in found if d <= today]
    return max(past) if past else today


def genai_source(provider) -> str:
    url = (provider.pricing_urls or [None])[0]
    return f"genai-prices {GENAI_PRICES_VERSION}" + (f" ({url})" if url else "")


def _reference_time() -> datetime:
    """Prices are read at noon UTC today: stable through the day (off-peak windows aside)."""
    return datetime.combine(date.today(), time(12, 0), tzinfo=UTC)


def _from_genai(provider, model, context: dict | None = None) -> ModelPrice | None:
    """Convert a genai-prices model to a :class:`ModelPrice` (None when not priced per token).

    ``context`` selects a price variant (``{"processing": "batch"}``), read at a time when the
    variant is in effect: genai-prices dates its variants from when it started recording them,
    not from when the provider started offering them.
    """
    from genai_prices.types import TieredPrices

    when = _reference_time()
    for variant in (model.price_variants or ()) if context else ():
        start = getattr(variant.constraint, "start_date", None)
        if variant.when == context and start is not None and when.date() < start:
            when = datetime.combine(start, time(12, 0), tzinfo=UTC)
    prices = model.get_prices(when, context)
    keys = {"input_per_mtok": "input_mtok", "output_per_mtok": "output_mtok",
            "cached_read_per_mtok": "cache_read_mtok", "cached_write_per_mtok": "cache_write_mtok",
            "cached_write_1h_per_mtok": "cache_write_1h_mtok"}
    raw = {f: getattr(prices, k, None) for f, k in keys.items()}
    if raw["input_per_mtok"] is None and raw["output_per_mtok"] is None:
        return None
    starts = sorted({t.start for v in raw.values() if isinstance(v, TieredPrices) for t in v.tiers})

    def at(value, start: int | None) -> float | None:
        if value is None:
            return None
        if not isinstance(value, TieredPrices):
            return float(value)
        applicable = value.base
        for tier in value.tiers:  # sorted ascending by genai-prices
            if start is not None and tier.start <= start:
                applicable = tier.price
        return float(applicable)

    base = {f: at(v, None) for f, v in raw.items()}
    tiers = tuple(Tier(s, **{f: (at(v, s) if v is not None else None) for f, v in raw.items()})
                  for s in starts)
    tiers = tuple(_zero_if_missing(t) for t in tiers)
    return ModelPrice(
        model=model.id, provider=provider.id,
        input_per_mtok=base["input_per_mtok"] or 0.0, output_per_mtok=base["output_per_mtok"] or 0.0,
        cached_read_per_mtok=base["cached_read_per_mtok"], cached_write_per_mtok=base["cached_write_per_mtok"],
        cached_write_1h_per_mtok=base["cached_write_1h_per_mtok"],
        tiers=tiers, source=genai_source(provider), snapshot_date=genai_data_date(),
        layer="genai-prices", note=(model.name or "") + (" (batch price)" if context else ""),
    )


def _zero_if_missing(t: Tier) -> Tier:
    """A tier with no input or output price (genai-prices omits them for some units) charges 0."""
    return Tier(t.start, t.input_per_mtok or 0.0, t.output_per_mtok or 0.0,
                t.cached_read_per_mtok, t.cached_write_per_mtok, t.cached_write_1h_per_mtok)


def genai_price(name: str) -> ModelPrice | None:
    """The genai-prices price for a bare or provider-prefixed name, or None if it has none."""
    provider_id, bare = split_name(name)
    if provider_id in SELF_HOSTED:
        return None  # a self-hosted model costs what you pay to host it: an override's job
    snap = _snapshot()
    attempts = [(bare, provider_id)] if provider_id else []
    attempts.append((bare, None))
    for ref, pid in attempts:
        try:
            provider, model = snap.find_provider_model(ref, None, pid, None)
        except LookupError:
            continue
        return _cached_genai(provider.id, model.id)
    return None


@lru_cache(maxsize=4096)
def _cached_genai(provider_id: str, model_id: str) -> ModelPrice | None:
    snap = _snapshot()
    provider = next(p for p in snap.providers if p.id == provider_id)
    model = next(m for m in provider.models if m.id == model_id)
    return _from_genai(provider, model)


@lru_cache(maxsize=4096)
def genai_batch_price(provider_id: str, model_id: str) -> ModelPrice | None:
    """genai-prices' own batch price of a model (``processing: batch``), or None if it has none."""
    snap = _snapshot()
    provider = next((p for p in snap.providers if p.id == provider_id), None)
    model = next((m for m in provider.models if m.id == model_id), None) if provider else None
    context = {"processing": "batch"}
    if model is None or not any(v.when == context for v in model.price_variants or ()):
        return None
    return _from_genai(provider, model, context)


@lru_cache(maxsize=1)
def genai_catalog() -> tuple[ModelPrice, ...]:
    """Every token-priced model genai-prices knows, across all providers."""
    out = []
    for provider in _snapshot().providers:
        for model in provider.models:
            price = _cached_genai(provider.id, model.id)
            if price is not None:
                out.append(price)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Validation shared by the override file and workspace edits
# ---------------------------------------------------------------------------------------------
def check_price(value, field_name: str, model: str, source: str, *, required: bool) -> float | None:
    """A non-negative finite number of USD per million tokens, or InputError naming the field."""
    expected = "a non-negative number of US dollars per million tokens"
    if value is None or (isinstance(value, str) and not value.strip()) or (
            isinstance(value, float) and math.isnan(value) and not required):
        if required:
            raise InputError(f"Price for '{model}': {field_name} is required",
                             [Problem(source, None, field_name, expected, "")])
        return None
    bad = isinstance(value, bool)
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        bad = True
    if bad or not math.isfinite(number) or number < 0:
        raise InputError(f"Price for '{model}': {field_name} must be {expected}",
                         [Problem(source, None, field_name, expected, str(value))])
    return number


def check_tiers(tiers, model: str, source: str) -> tuple[Tier, ...]:
    """Tiers from dicts ``{"start": 200000, "input_per_mtok": ..., ...}``, validated."""
    if not tiers:
        return ()
    if isinstance(tiers, str):
        try:
            tiers = json.loads(tiers)
        except json.JSONDecodeError:
            raise InputError(f"Price for '{model}': tiers must be a JSON list",
                             [Problem(source, None, "tiers", "a JSON list of tiers", tiers)]) from None
    out = []
    for i, raw in enumerate(tiers):
        if isinstance(raw, Tier):
            raw = raw.__dict__
        if not isinstance(raw, dict):
            raise InputError(f"Price for '{model}': tier {i + 1} must be an object",
                             [Problem(source, None, "tiers", "an object with start and prices", str(raw))])
        start = raw.get("start")
        if isinstance(start, bool) or not isinstance(start, (int, float)) or start < 0 or start != int(start):
            raise InputError(f"Price for '{model}': tier {i + 1} start must be a whole number of input tokens",
                             [Problem(source, None, "tiers.start", "a non-negative whole number", str(start))])
        prices = {f: check_price(raw.get(f), f"tiers.{f}", model, source, required=f in PRICE_FIELDS[:2])
                  for f in PRICE_FIELDS}
        out.append(Tier(int(start), **prices))
    return tuple(sorted(out, key=lambda t: t.start))


# ---------------------------------------------------------------------------------------------
# The shipped override file
# ---------------------------------------------------------------------------------------------
def overrides_path() -> Path:
    return env_path(PRICE_OVERRIDES_ENV) or DEFAULT_PRICE_OVERRIDES


def read_override_file(path: str | Path | None = None) -> tuple[ModelPrice, ...]:
    """Prices of custom and self-hosted models from a JSON file (see data/price_overrides.json)."""
    path = Path(path) if path is not None else overrides_path()
    if not path.exists():
        return ()
    label = path.name
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{label}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    entries = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise InputError(f"{label}: expected an object with a 'models' list")
    default_date = str(doc.get("taken", ""))
    out = []
    for i, entry in enumerate(entries):
        model = str(entry.get("model", "")).strip() if isinstance(entry, dict) else ""
        if not model:
            raise InputError(f"{label}: model entry {i + 1} has no 'model' name",
                             [Problem(label, None, "model", "a model name", str(entry))])
        prices = {f: check_price(entry.get(f), f, model, label, required=f in PRICE_FIELDS[:2])
                  for f in PRICE_FIELDS}
        provider, _ = split_name(model)
        out.append(ModelPrice(
            model=model, provider=entry.get("provider") or provider, **prices,
            tiers=check_tiers(entry.get("tiers"), model, label),
            source=f"{label}: {entry.get('source', 'local override')}",
            snapshot_date=str(entry.get("taken", default_date)), layer="override file",
            note=str(entry.get("note", "")), estimate=bool(entry.get("estimate", False)),
            aliases=tuple(str(a) for a in entry.get("aliases", ())),
        ))
    return tuple(out)


def price_from_edit(row: dict) -> ModelPrice:
    """A workspace edit row (``pricing_overrides`` table) as a :class:`ModelPrice`."""
    updated = row.get("updated_at")
    return ModelPrice(
        model=row["model"], provider=row.get("provider"),
        input_per_mtok=float(row["input_per_mtok"]), output_per_mtok=float(row["output_per_mtok"]),
        cached_read_per_mtok=_nan_none(row.get("cached_read_per_mtok")),
        cached_write_per_mtok=_nan_none(row.get("cached_write_per_mtok")),
        tiers=check_tiers(json.loads(row["tiers"]) if row.get("tiers") else (), row["model"], "workspace"),
        source="workspace edit", snapshot_date=str(updated)[:10] if updated is not None else "",
        layer="workspace edit", note=row.get("note") or "",
    )


def _nan_none(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


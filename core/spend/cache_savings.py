"""What the providers' prompt caches really saved: the ledger's cached tokens at catalog rates.

Per model: the input tokens read from a provider's prompt cache paid the cache-read rate instead
of the input rate (the saving), and the tokens written to it paid the write rate (Anthropic's
premium: the cost). Rates are the model's base rates (:func:`core.pricing.usage.unit_rates`:
ledger rows may sum many requests, so no long-context tier is guessed from their totals).
These are billed calls (scope ``production`` unless the filter says otherwise), not a what-if.

>>> from core.spend.ledger import record_calls
>>> _ = record_calls(ws, pd.DataFrame({"call_id": ["a"], "ts": [pd.Timestamp("2026-01-02")],
...     "provider": ["anthropic"], "model": ["claude-haiku-4-5"], "input_tokens": [10_000],
...     "cached_input_tokens": [8_000], "cache_write_tokens": [1_000], "output_tokens": [100],
...     "cost_usd": [0.00265]}))
>>> from core.pricing.catalog import default_catalog
>>> row = prompt_cache_savings(ws, default_catalog()).iloc[0]
>>> [round(float(row[k]), 6) for k in ("read_saving_usd", "write_premium_usd", "net_saving_usd")]
[0.0072, 0.00025, 0.00695]
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.pricing.catalog import Catalog
from core.pricing.usage import unit_rates
from core.spend.ledger import ensure_ledger
from core.spend.queries import SpendFilter
from core.workspace import Workspace


def prompt_cache_savings(ws: Workspace, catalog: Catalog, flt: SpendFilter = SpendFilter()) -> pd.DataFrame:
    """Per (provider, model) with cached or cache-written tokens: requests, tokens, the saving
    on reads, the premium on writes and the net saving in USD (NaN when the model has no price)."""
    ensure_ledger(ws)
    where, params = flt.where(raw=True)
    frame = ws.cursor().execute(f"""
        select provider, model, cast(sum(requests) as bigint) as requests,
               cast(sum(input_tokens) as bigint) as input_tokens,
               cast(sum(cached_input_tokens) as bigint) as cached_input_tokens,
               cast(sum(cache_write_tokens) as bigint) as cache_write_tokens
        from ledger where {where}
        group by provider, model
        having sum(cached_input_tokens) > 0 or sum(cache_write_tokens) > 0
        order by provider nulls last, model""", params).df()
    read_gain, write_cost = [], []
    for provider, model in zip(frame["provider"], frame["model"]):
        price = catalog.price_for(f"{provider}:{model}" if provider else model) or catalog.price_for(model)
        if price is None:
            read_gain.append(np.nan)
            write_cost.append(np.nan)
            continue
        rates = unit_rates(price, long_context=False)
        read_gain.append(rates["input"] - rates["cache_read"])
        write_cost.append(rates["cache_write"] - rates["input"])
    frame["read_saving_usd"] = frame["cached_input_tokens"].astype(float) * np.array(read_gain, dtype=float)
    frame["write_premium_usd"] = frame["cache_write_tokens"].astype(float) * np.array(write_cost, dtype=float)
    frame["net_saving_usd"] = frame["read_saving_usd"] - frame["write_premium_usd"]
    frame["cached_share"] = frame["cached_input_tokens"] / frame["input_tokens"].where(frame["input_tokens"] > 0)
    return frame

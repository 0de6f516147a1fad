"""Anthropic's Admin API usage and cost reports (JSON, or CSV with the API's field names).

* **Anthropic** Admin API ``GET /v1/organizations/usage_report/messages``:
  ``{"data": [{"starting_at", "ending_at", "results": [{"uncached_input_tokens",
  "cache_creation": {"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"},
  "cache_read_input_tokens", "output_tokens", "server_tool_use", "model", "workspace_id",
  "api_key_id", "service_tier", "context_window"}]}], "has_more", "next_page"}`` (no request
  count: ``requests`` stays NULL). ``GET /v1/organizations/cost_report``: results
  ``{"currency": "USD", "amount": "123.45", "description", "cost_type", "token_type", "model",
  "workspace_id", "service_tier", "context_window"}`` where ``amount`` is a decimal string in
  the lowest currency unit (cents: "123.45" is $1.23). CSV files with these field names (flattened
  ``cache_creation_5m_input_tokens``/``cache_creation_1h_input_tokens``) are read too; the console's
  own CSV column names could not be verified offline.
"""
from __future__ import annotations

import pandas as pd

from core.errors import InputError
from core.spend.imports.staging import num_sum, pick, usage_results


def parse_row(start, r: dict) -> dict:
    row = {"ts": start, "provider": "anthropic", "model": pick(r, "model") or "(all models)",
           "project": pick(r, "workspace_id")}
    if "amount" in r or "cost_usd" in r:
        cents = r.get("amount")
        try:
            dollars = float(cents) / 100 if cents not in (None, "") else r.get("cost_usd")
        except (TypeError, ValueError):
            dollars = cents
        if r.get("currency") not in (None, "", "USD", "usd"):
            dollars = f"{cents} {r.get('currency')}"
        tags = ";".join(str(v) for v in (r.get("cost_type"), r.get("token_type")) if v)
        row.update(kind="cost", cost_usd=dollars, tags=tags or None)
        return row
    creation = r.get("cache_creation") if isinstance(r.get("cache_creation"), dict) else {}
    writes = num_sum(creation.get("ephemeral_5m_input_tokens"), creation.get("ephemeral_1h_input_tokens"),
                      r.get("cache_creation_5m_input_tokens"), r.get("cache_creation_1h_input_tokens"),
                      r.get("cache_creation_input_tokens"))
    uncached, read = r.get("uncached_input_tokens"), r.get("cache_read_input_tokens")
    # Our input_tokens count every input token (uncached + cache reads + cache writes). The row
    # is priced at the tier its requests had, as the report states: service_tier ("batch": the
    # batch price), context_window ("0-200k": standard; "200k-1M": long context), and one-hour
    # cache writes at their own rate. (tags keep the service tier too, as earlier releases did:
    # the row's content id depends on it.)
    row.update(kind="usage", input_tokens=num_sum(uncached, read, writes), cached_input_tokens=read,
               cache_write_tokens=writes, output_tokens=r.get("output_tokens"),
               tags=pick(r, "service_tier"), service_tier=pick(r, "service_tier"),
               context_window=pick(r, "context_window"),
               cache_write_1h_tokens=num_sum(creation.get("ephemeral_1h_input_tokens"),
                                             r.get("cache_creation_1h_input_tokens")))
    return row


def parse_json(doc, label: str) -> pd.DataFrame:
    return pd.DataFrame([parse_row(start, r) for start, r in usage_results(doc, label, "starting_at")])


def parse_csv(raw: pd.DataFrame, label: str) -> pd.DataFrame:
    cols = set(raw.columns)
    if not ({"starting_at", "date"} & cols) or not ({"uncached_input_tokens", "amount", "cost_usd"} & cols):
        raise InputError(f"{label}: not an Anthropic usage or cost report: expected columns "
                         "starting_at, model, uncached_input_tokens, cache_read_input_tokens, "
                         "output_tokens (usage) or starting_at, amount (cents), model (cost)")
    return pd.DataFrame([parse_row(pick(r, "starting_at", "date"), r)
                         for r in raw.to_dict("records")])

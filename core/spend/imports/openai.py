"""OpenAI's usage and cost exports (API JSON and the dashboard's CSV).

* **OpenAI** Usage API, ``GET /v1/organization/usage/completions``: a page
  ``{"object": "page", "data": [bucket...], "has_more", "next_page"}``; a bucket
  ``{"object": "bucket", "start_time", "end_time", "results": [...]}`` (epoch seconds); a
  completions result: ``input_tokens`` (includes cached), ``output_tokens``,
  ``input_cached_tokens``, ``input_audio_tokens``, ``output_audio_tokens``,
  ``num_model_requests``, ``project_id``, ``user_id``, ``api_key_id``, ``model``, ``batch``,
  ``service_tier``. Costs API, ``GET /v1/organization/costs``: results
  ``{"object": "organization.costs.result", "amount": {"value", "currency"}, "line_item",
  "project_id"}``; ``line_item`` reads like ``"gpt-4o-2024-08-06, input"``. The usage dashboard's
  CSV exports flatten the same fields: ``start_time, end_time, start_time_iso, end_time_iso,
  project_id, num_model_requests, user_id, api_key_id, model, batch, service_tier, input_tokens,
  output_tokens, input_cached_tokens, ...`` and for costs ``start_time, end_time,
  start_time_iso, end_time_iso, amount_value, amount_currency, line_item, project_id,
  organization_id, organization_name``.
"""
from __future__ import annotations

import pandas as pd

from core.errors import InputError
from core.spend.imports.staging import pick, usage_results


def parse_row(start, r: dict) -> dict:
    row = {"ts": start, "provider": "openai", "project": pick(r, "project_id")}
    amount = r.get("amount")
    if isinstance(amount, dict) or "amount_value" in r:
        value = amount.get("value") if isinstance(amount, dict) else r.get("amount_value")
        currency = (amount.get("currency") if isinstance(amount, dict) else r.get("amount_currency"))
        item = r.get("line_item") or ""
        model = item.split(",")[0].strip() if item else "(all models)"
        row.update(kind="cost", model=model, cost_usd=value, tags=item.replace(",", ";") or None)
        if currency and str(currency).lower() != "usd":
            row["cost_usd"] = f"{value} {currency}"  # reported as a bad row: not USD
        return row
    cached = pick(r, "input_cached_tokens")
    batch = str(r.get("batch")).lower() == "true"
    # "model": null means the export was not grouped by model: the row cannot be priced and its
    # cost stays unknown (the import report says how to fix the export).
    row.update(kind="usage", model=pick(r, "model") or "(all models)",
               input_tokens=pick(r, "input_tokens"), cached_input_tokens=cached,
               output_tokens=pick(r, "output_tokens"), requests=pick(r, "num_model_requests"),
               tags="batch" if batch else None,
               service_tier="batch" if batch else pick(r, "service_tier"))
    return row


def parse_json(doc, label: str) -> pd.DataFrame:
    rows = [parse_row(start, r) for start, r in usage_results(doc, label, "start_time")]
    return pd.DataFrame(rows)


def parse_csv(raw: pd.DataFrame, label: str) -> pd.DataFrame:
    cols = set(raw.columns)
    if not ({"start_time", "start_time_iso"} & cols) or not ({"amount_value", "num_model_requests"} & cols):
        raise InputError(f"{label}: not an OpenAI usage or cost export: expected columns "
                         "start_time, model, input_tokens, output_tokens, num_model_requests "
                         "(usage) or start_time, amount_value, line_item (costs)")
    rows = [parse_row(pick(r, "start_time_iso", "start_time"), r)
            for r in raw.to_dict("records")]
    return pd.DataFrame(rows)

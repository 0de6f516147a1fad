"""Assertions shared by the gateway tests."""
from __future__ import annotations

from collections import Counter


def chat(client, model: str, text: str, **kw):
    """A completion through the gateway: (content, headers)."""
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], **kw)
    return raw.parse().choices[0].message.content, raw.headers


def assert_ledger_matches_fake(gateway_server, fake, request_ids) -> None:
    """Every request the fake providers saw is one ledger row (status included), no more."""
    rows = gateway_server.ledger_rows(request_ids)
    seen = Counter((c["provider"], c["model"], "ok" if c["status"] == 200 else "error")
                   for c in fake.calls)
    booked = Counter((p, m, "ok" if s == "ok" else "error")
                     for p, m, s in zip(rows["provider"], rows["model"], rows["status"]))
    assert booked == seen
    assert (rows["source"] == "gateway").all()

"""Eval sets where the right routing is known by construction (learned router and optimizer tests)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.evaluation.evalset import EvalSet

WORDS = np.array(["order", "parcel", "invoice", "login", "password", "account", "shipping", "delivery", "address", "email", "discount", "coupon", "cart", "checkout", "size", "colour", "return", "exchange", "warranty", "store"])


def keyword_evalset(n: int = 400, seed: int = 0, noise: float = 0.05, keyword: str = "refund",
                    with_text: bool = True) -> EvalSet:
    """``small`` (cheap) is right unless the item mentions ``keyword`` (about 40% of items);
    ``big`` (10x dearer) is right on 97%. A numeric ``difficulty`` column carries the same fact
    for sets without text, and an ``oracle_model_to_route_to`` column leaks it (it must be
    ignored). ``noise`` flips that share of small's outcomes."""
    rng = np.random.default_rng(seed)
    hard = rng.random(n) < 0.4
    texts = []
    for h in hard:
        words = list(rng.choice(WORDS, 8))
        if h:
            words.insert(int(rng.integers(0, 8)), keyword)
        texts.append("Customer says: " + " ".join(words))
    small_ok = (~hard) ^ (rng.random(n) < noise)
    big_ok = rng.random(n) < 0.97
    score = np.column_stack([big_ok, small_ok]).astype(float)  # models sorted: big, small
    cost = np.column_stack([np.full(n, 0.01), np.full(n, 0.001)])
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(n)], "task": "support",
                          "difficulty": np.where(hard, 0.8, 0.2) + rng.normal(0, 0.05, n),
                          "oracle_model_to_route_to": np.where(small_ok, "small", "big")})
    if with_text:
        items.insert(1, "input", texts)
    pred = np.where(score > 0, "ok", "bad").astype(object)
    empty = np.full((n, 2), np.nan)
    return EvalSet(f"keyword-{n}-seed{seed}", items, ("big", "small"), score, cost,
                   np.full((n, 2), 100.0), empty.copy(), empty.copy(), empty.copy(), empty.copy(),
                   pred, np.full((n, 2), None, dtype=object))


def confidence_evalset(n: int = 200, seed: int = 0) -> EvalSet:
    """``small`` ($0.001) reports confidence; it is right exactly when confidence >= 0.5 (60% of
    items); ``big`` ($0.01) is always right. The best policy for ``match:big~0`` is the cascade
    small -> big accepting confidence >= 0.5: quality 1.0 at $0.001 + 0.4 x $0.01 per item."""
    rng = np.random.default_rng(seed)
    conf_small = np.where(np.arange(n) % 5 < 3, rng.uniform(0.55, 1.0, n), rng.uniform(0.0, 0.45, n))
    rng.shuffle(conf_small)
    score = np.column_stack([np.ones(n), (conf_small >= 0.5).astype(float)])
    conf = np.column_stack([np.full(n, 0.99), conf_small])
    cost = np.column_stack([np.full(n, 0.01), np.full(n, 0.001)])
    items = pd.DataFrame({"item_id": [f"c{i}" for i in range(n)], "task": "qa"})
    empty = np.full((n, 2), np.nan)
    return EvalSet(f"confidence-{n}", items, ("big", "small"), score, cost, np.full((n, 2), 50.0),
                   conf, empty.copy(), empty.copy(), empty.copy(),
                   np.full((n, 2), None, dtype=object), np.full((n, 2), None, dtype=object))


def write_long_csv(es: EvalSet, path) -> None:
    """The eval set as a long CSV (for the command-line tests)."""
    rows = []
    for j, m in enumerate(es.models):
        part = es.items.copy()
        part["model"] = m
        part["score"] = es.score[:, j]
        part["cost_usd"] = es.cost[:, j]
        part["latency_ms"] = es.latency_ms[:, j]
        if not np.isnan(es.confidence[:, j]).all():
            part["confidence"] = es.confidence[:, j]
        if es.prediction[:, j].any():
            part["prediction"] = es.prediction[:, j]
        rows.append(part)
    pd.concat(rows).to_csv(path, index=False)

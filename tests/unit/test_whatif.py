"""Prompt-caching and batch what-ifs, by hand against the catalog's prices, and the Cost
Efficiency Score.

Catalog rates used (genai-prices, USD per million tokens):
  claude-sonnet-4-5: in 3, cache read 0.30, cache write 3.75, out 15; batch in 1.5, out 7.5
  gpt-4o-mini:       in 0.15, cache read 0.075 (no write premium), out 0.60; batch in 0.075, out 0.30
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.evaluation.efficiency import efficiency_scores
from core.evaluation.loading import load_csv
from core.pricing.batch import batch_offer
from core.pricing.caching import cache_rule, cache_split, hit_rate
from core.pricing.catalog import Catalog, default_catalog
from core.pricing.sources import ModelPrice
from core.routing.policies import SingleModel
from core.routing.task_settings import delay_tolerant_tasks, set_delay_tolerant
from core.routing.whatif import prefix_lengths, savings_plan
from core.workspace import Workspace

H = 1 - math.exp(-1)  # 288 requests a day = one per 300 s, the 5-minute TTL: P(hit) = 1 - 1/e


def two_items(cached=(0, 0)) -> pd.DataFrame:
    """One task, two items: 5,000 input tokens (the input text is 4 characters = 1 token, so the
    template is 4,999 tokens and the inputs share no text), 100 output tokens, two models."""
    rows = []
    for i, (text, c) in enumerate(zip(["abcd", "wxyz"], cached)):
        for model in ("gpt-4o-mini", "claude-sonnet-4-5"):
            rows.append({"item_id": f"i{i}", "input": text, "task": "faq", "model": model,
                         "score": 1, "confidence": 0.9, "input_tokens": 5000, "output_tokens": 100,
                         "cached_input_tokens": c if model == "claude-sonnet-4-5" else 0})
    return pd.DataFrame(rows)


def evalset(frame: pd.DataFrame):
    return load_csv(frame.to_csv(index=False).encode(), name="two.csv")


def test_cache_arithmetic_against_the_catalog_rates():
    sonnet = default_catalog().price_for("claude-sonnet-4-5")
    rule = cache_rule("claude-sonnet-4-5", sonnet)
    assert (rule.min_tokens, rule.ttl_s) == (1024, 300.0)
    h = float(hit_rate(1 / 300, rule.ttl_s))
    assert h == pytest.approx(0.6321205588)
    read, write = cache_split(4000.0, h, rule, 5000.0)
    # 1,000 uncached x $3 + 4,000 x (0.632 x $0.30 + 0.368 x $3.75) + 100 x $15, per million
    expected = (1000 * 3 + 4000 * (h * 0.30 + (1 - h) * 3.75) + 100 * 15) / 1e6
    assert float(sonnet.cost(5000, 100, read, write)) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.01077674, rel=1e-6)  # 3,000 + 6,276.7 + 1,500
    # OpenAI: no write premium, so a miss costs the input price
    mini = default_catalog().price_for("gpt-4o-mini")
    read, write = cache_split(4000.0, 0.5, cache_rule("gpt-4o-mini", mini), 5000.0)
    assert float(mini.cost(5000, 100, read, write)) == pytest.approx(
        (1000 * 0.15 + 2000 * 0.075 + 2000 * 0.15 + 100 * 0.6) / 1e6)  # $0.00066


def test_a_prefix_below_the_providers_minimum_is_never_cached():
    haiku = default_catalog().price_for("claude-haiku-4-5")
    rule = cache_rule("claude-haiku-4-5", haiku)
    assert rule.min_tokens == 4096  # Haiku 4.5
    read, write = cache_split(np.array([4095.0, 4096.0]), 1.0, rule, np.array([6000.0, 6000.0]))
    assert read.tolist() == [0.0, 4096.0] and write.tolist() == [0.0, 0.0]
    assert cache_rule("acme:custom", None) is None
    assert [a.tolist() for a in cache_split(5000.0, 1.0, None, 6000.0)] == [0.0, 0.0]


def test_hit_rate_grows_with_traffic_and_ttl():
    rates = np.array([0.0, 1 / 3600, 1 / 300, 1 / 60, 1.0])
    h = hit_rate(rates, 300.0)
    assert h[0] == 0.0 and np.all(np.diff(h) > 0) and h[-1] == pytest.approx(1.0)
    assert float(hit_rate(1 / 300, 600.0)) > float(hit_rate(1 / 300, 300.0))


def test_batch_prices_from_the_catalog_else_the_documented_half():
    offer = batch_offer("claude-sonnet-4-5", default_catalog().price_for("claude-sonnet-4-5"))
    assert offer.available and "genai-prices" in offer.source
    assert (offer.price.input_per_mtok, offer.price.output_per_mtok) == (1.5, 7.5)
    assert float(offer.price.cost(5000, 100)) == pytest.approx(0.00825)  # 7,500 + 750 per million
    # an override-file price of an Anthropic model: the documented 50%, its source named
    own = ModelPrice("claude-custom", "anthropic", 4.0, 20.0, layer="override file", source="file")
    offer = batch_offer("anthropic:claude-custom", Catalog(file_prices=(own,)).price_for("anthropic:claude-custom"))
    assert offer.available and (offer.price.input_per_mtok, offer.price.output_per_mtok) == (2.0, 10.0)
    assert "Message Batches" in offer.source and "50%" in offer.source
    local = batch_offer("local:llama-3.1-8b", default_catalog().price_for("local:llama-3.1-8b"))
    assert not local.available and "self-hosted" in local.source
    assert not batch_offer("nobody:nothing", None).available


def test_prefix_is_recorded_from_cached_tokens_else_estimated_from_the_inputs():
    es = evalset(two_items(cached=(1280, 1536)))
    table = prefix_lengths(es).set_index("model")
    assert table.loc["claude-sonnet-4-5", "prefix_source"] == "recorded"
    assert table.loc["claude-sonnet-4-5", "prefix_tokens"] == 1408.0  # median of 1,280 and 1,536
    assert table.loc["gpt-4o-mini", "prefix_source"] == "estimate"
    assert table.loc["gpt-4o-mini", "prefix_tokens"] == 4999.0  # 5,000 - the input's 1 token


def test_savings_plan_by_hand_for_one_model():
    es = evalset(two_items())
    out = SingleModel("claude-sonnet-4-5").evaluate(es)
    plan = savings_plan(es, out, default_catalog(), 288, batch_tasks={"faq"})
    route = (5000 * 3 + 100 * 15) / 1e6                                    # $0.0165
    cache = (1 * 3 + 4999 * (H * 0.30 + (1 - H) * 3.75) + 100 * 15) / 1e6   # $0.0093473
    batch = (5000 * 1.5 + 100 * 7.5) / 1e6                                  # $0.00825
    both = (1 * 1.5 + 4999 * (H * 0.15 + (1 - H) * 1.875) + 100 * 7.5) / 1e6
    assert plan.costs["route"] == pytest.approx(route)
    assert plan.costs["cache"] == pytest.approx(cache, rel=1e-9)
    assert plan.costs["batch"] == pytest.approx(batch)
    assert plan.costs["all"] == pytest.approx(both, rel=1e-9)
    assert plan.saving("cache") == pytest.approx(route - cache)
    assert plan.spend_per_day["route"] == pytest.approx(route * 288)
    detail = plan.detail.set_index("model").loc["claude-sonnet-4-5"]
    assert detail["hit_rate"] == pytest.approx(H) and detail["calls_per_day"] == pytest.approx(288)
    assert detail["cache_saving_per_day"] == pytest.approx((route - cache) * 288)
    row = plan.tasks.iloc[0]
    assert row["delay_tolerant"] and row["latency_with_batch"] == "up to 24 h"
    assert plan.quality == 1.0 and plan.not_modelled == 0


def test_savings_plan_only_batches_flagged_tasks_and_keeps_recorded_caching_as_the_route():
    es = evalset(two_items(cached=(2000, 2000)))
    out = SingleModel("claude-sonnet-4-5").evaluate(es)
    plan = savings_plan(es, out, default_catalog(), 288)  # no task tolerates delay
    recorded = (3000 * 3 + 2000 * 0.30 + 100 * 15) / 1e6  # the eval set's own cache reads
    assert plan.costs["route"] == pytest.approx(recorded)
    assert plan.costs["batch"] == pytest.approx(recorded)
    # modelled: the 2,000-token recorded prefix at P(hit) = 1 - 1/e replaces the recorded reads
    assert plan.costs["cache"] == pytest.approx(
        (3000 * 3 + 2000 * (H * 0.30 + (1 - H) * 3.75) + 100 * 15) / 1e6)
    none = savings_plan(es, out, default_catalog(), 0)  # no traffic, no hits: every call writes
    assert none.costs["cache"] > none.costs["route"]
    with pytest.raises(InputError):
        savings_plan(es, out, default_catalog(), -1)


def test_delay_tolerant_flags_persist_in_the_workspace(tmp_path):
    path = tmp_path / "ws"
    ws = Workspace(path)
    set_delay_tolerant(ws, "faq", True)
    set_delay_tolerant(ws, "faq", True)  # once, not twice
    ws.close()
    ws = Workspace(path)
    try:
        assert delay_tolerant_tasks(ws) == {"faq"}
        assert ws.cursor().execute("select count(*) from task_settings").fetchone()[0] == 1
        with pytest.raises(InputError):
            set_delay_tolerant(ws, "  ", True)
    finally:
        ws.close()


def test_efficiency_unranks_undefined_rows_and_does_not_penalise_unknown_latency():
    frame = pd.DataFrame({"name": ["free", "nocost", "nolat", "slow"], "quality": [0.9, 0.9, 0.5, 0.8],
                          "cost_per_item": [0.0, np.nan, 0.001, 0.001],
                          "latency_p95": [100.0, 100.0, np.nan, 8000.0]})
    out = efficiency_scores(frame, latency_target_ms=2000).set_index("name")
    assert out.loc["nolat", "ces"] == pytest.approx(500.0) and out.loc["nolat", "rank"] == 1
    assert out.loc["slow", "ces"] == pytest.approx(800 * 0.25) and out.loc["slow", "rank"] == 2
    assert pd.isna(out.loc["free", "rank"]) and "zero cost" in out.loc["free", "note"]
    assert pd.isna(out.loc["nocost", "rank"]) and "cost unknown" in out.loc["nocost", "note"]
    assert "no penalty" in out.loc["nolat", "note"]
    with pytest.raises(InputError, match="Latency target"):
        efficiency_scores(frame, latency_target_ms=0)

"""core.pricing.catalog: hand-computed costs, cached and tiered prices, layers, validation, persistence."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from core.errors import InputError
from core.pricing.catalog import Catalog, default_catalog, price_snapshot_date
from core.pricing.edits import catalog_for, delete_override, load_edits, set_override
from core.pricing.sources import ModelPrice, Tier, read_override_file, split_name


def price_for(model):
    return default_catalog().price_for(model)


def call_cost(*args, **kw):
    return default_catalog().call_cost(*args, **kw)


def catalog_cost(*args):
    return default_catalog().cost(*args)


def write_overrides(path, models, taken="2026-01-02"):
    path.write_text(json.dumps({"taken": taken, "models": models}))
    return path


# -- hand-computed costs ----------------------------------------------------------------------
def test_plain_input_and_output_prices():
    # gpt-4o-mini in genai-prices 0.2.3: $0.15 in, $0.60 out, $0.075 cached read per MTok
    assert call_cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert call_cost("gpt-4o-mini", 2_000, 100) == pytest.approx((2000 * 0.15 + 100 * 0.6) / 1e6)


def test_cached_tokens_are_part_of_input_and_priced_at_the_cached_rate():
    # 2,000 input of which 1,000 cached: 1,000 × 0.15 + 1,000 × 0.075 + 100 × 0.60 = 285 µ$
    cost = catalog_cost("gpt-4o-mini", np.array([2000.0]), np.array([100.0]), np.array([1000.0]))
    assert cost == pytest.approx([285e-6])
    # More cached than input is clipped: every input token at the cached rate.
    assert catalog_cost("gpt-4o-mini", np.array([100.0]), np.array([0.0]), np.array([500.0])) == \
        pytest.approx([100 * 0.075 / 1e6])


def test_cache_reads_and_writes_use_their_own_rates():
    # claude-haiku-4-5: $1 in, $5 out, $0.10 cache read, $1.25 cache write per MTok.
    # 10,000 input = 1,000 plain + 5,000 read + 4,000 written; 200 output.
    expected = (1000 * 1 + 5000 * 0.1 + 4000 * 1.25 + 200 * 5) / 1e6
    assert call_cost("claude-haiku-4-5", 10_000, 200, cached_read_tokens=5_000,
                     cached_write_tokens=4_000) == pytest.approx(expected)


def test_tiered_price_applies_to_the_whole_call_once_input_crosses_the_threshold():
    # claude-sonnet-4-5: $3/$15 up to 200k input tokens, $6/$22.5 for calls above.
    cost = catalog_cost("claude-sonnet-4-5", np.array([199_000.0, 250_000.0]),
                        np.array([1_000.0, 1_000.0]), np.array([0.0, 0.0]))
    assert cost == pytest.approx([(199_000 * 3 + 1000 * 15) / 1e6, (250_000 * 6 + 1000 * 22.5) / 1e6])


def test_custom_tiers_from_the_override_file(tmp_path):
    path = write_overrides(tmp_path / "o.json", [{
        "model": "acme:big", "input_per_mtok": 1, "output_per_mtok": 2, "cached_read_per_mtok": 0.5,
        "tiers": [{"start": 1000, "input_per_mtok": 10, "output_per_mtok": 20},
                  {"start": 100, "input_per_mtok": 4, "output_per_mtok": 8, "cached_read_per_mtok": 1}]}])
    cat = Catalog(file_prices=read_override_file(path))
    cost = cat.cost("acme:big", np.array([100.0, 101.0, 2000.0]), np.array([10.0, 10.0, 10.0]),
                    np.array([0.0, 50.0, 1000.0]))
    assert cost == pytest.approx([
        (100 * 1 + 10 * 2) / 1e6,                  # not above 100: base prices
        (51 * 4 + 50 * 1 + 10 * 8) / 1e6,          # above 100: tier 1 incl. its cached rate
        (1000 * 10 + 1000 * 10 + 10 * 20) / 1e6,   # above 1000: no cached rate -> input rate
    ])


def test_vectorized_cost_matches_genai_prices_calc_price_on_random_usage():
    from genai_prices import Usage, calc_price

    rng = np.random.default_rng(0)
    models = ["gpt-4o-mini", "gpt-4.1", "gpt-5", "claude-haiku-4-5", "claude-sonnet-4-5",
              "claude-opus-4-5", "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite"]
    for model in models:
        inp = rng.integers(0, 400_000, 25).astype(float)
        read = np.floor(inp * rng.uniform(0, 0.6, 25))
        write = np.floor((inp - read) * rng.uniform(0, 0.5, 25))
        out = rng.integers(0, 20_000, 25).astype(float)
        price = price_for(model)
        ours = price.cost(inp, out, read, write)
        for k in range(25):
            usage = Usage(input_tokens=int(inp[k]), output_tokens=int(out[k]),
                          cache_read_tokens=int(read[k]), cache_write_tokens=int(write[k]))
            theirs = float(calc_price(usage, model).total_price)
            assert ours[k] == pytest.approx(theirs, rel=1e-9, abs=1e-12), (model, k)


def test_unknown_model_costs_nan_and_call_cost_none():
    cost = catalog_cost("no-such-model-xyz", np.array([10.0, 20.0]), np.array([1.0, 1.0]), np.array([0.0, 0.0]))
    assert cost.shape == (2,) and np.isnan(cost).all()
    assert call_cost("no-such-model-xyz", 10, 1) is None
    assert price_for("no-such-model-xyz") is None


# -- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gpt-4o-mini", "openai:gpt-4o-mini", "openai/gpt-4o-mini", " OpenAI:GPT-4o-mini "])
def test_bare_and_provider_prefixed_names_resolve_alike(name):
    assert price_for(name).input_per_mtok == pytest.approx(0.15)


def test_live_runner_provider_ids():
    assert price_for("gemini:gemini-2.5-flash").provider == "google"
    assert price_for("anthropic:claude-haiku-4-5").output_per_mtok == pytest.approx(5.0)
    local = price_for("local:llama-3.1-8b")
    assert local.layer == "override file" and local.estimate and "ESTIMATE" in local.note
    assert price_for("local/llama-3.1-8b") is local
    # A self-hosted model is never priced from a public API list.
    assert price_for("local:gpt-4o-mini") is None
    assert split_name("meta-llama/Llama-3.1-8B") == (None, "meta-llama/Llama-3.1-8B")


# -- layers -----------------------------------------------------------------------------------
def test_workspace_edit_beats_override_file_beats_genai_prices(ws, tmp_path, monkeypatch):
    path = write_overrides(tmp_path / "o.json", [
        {"model": "openai:gpt-4o-mini", "input_per_mtok": 0.2, "output_per_mtok": 0.8}])
    monkeypatch.setenv("TRADEOFF_PRICE_OVERRIDES", str(path))
    assert catalog_for(ws).price_for("gpt-4o-mini").input_per_mtok == pytest.approx(0.2)  # file > genai
    assert catalog_for(ws).price_for("gpt-4o-mini").snapshot_date == "2026-01-02"

    set_override(ws, "gpt-4o-mini", 0.5, 1.0, note="negotiated")
    assert catalog_for(ws).price_for("openai:gpt-4o-mini").input_per_mtok == pytest.approx(0.5)  # edit > file
    assert catalog_for(ws).call_cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(1.5)
    row = catalog_for(ws).frame().query("layer == 'workspace edit'").iloc[0]
    assert (row.model, row.input_per_mtok, row.in_effect, row.note) == ("gpt-4o-mini", 0.5, True, "negotiated")
    assert row.provider == "openai"
    hidden = catalog_for(ws).frame().query("layer == 'override file' and model == 'openai:gpt-4o-mini'")
    assert not hidden["in_effect"].iloc[0]

    assert delete_override(ws, "gpt-4o-mini") is True
    assert catalog_for(ws).price_for("gpt-4o-mini").input_per_mtok == pytest.approx(0.2)  # the file
    assert delete_override(ws, "gpt-4o-mini") is False


def test_catalog_frame_lists_genai_prices_with_source_and_date():
    frame = default_catalog().frame()
    row = frame[(frame["model"] == "claude-sonnet-4-5") & (frame["provider"] == "anthropic")].iloc[0]
    assert row.input_per_mtok == 3.0 and ">200,000 input tokens" in row.tiers
    assert row.source.startswith("genai-prices") and re.fullmatch(r"\d{4}-\d\d-\d\d", row.snapshot_date)
    assert (frame["layer"] == "override file").sum() >= 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", price_snapshot_date())


def test_edit_persists_across_reopen(workspace_path):
    from core.workspace import open_workspace

    ws = open_workspace(workspace_path)
    set_override(ws, "local:my-finetune", "0.4", 1.6, cached_read_per_mtok=0.04,
                 tiers=[{"start": 100_000, "input_per_mtok": 0.8, "output_per_mtok": 3.2}])
    ws.close()
    assert price_for("local:my-finetune") is None  # the shipped catalog never sees an edit
    reopened = open_workspace(workspace_path)
    try:
        price = catalog_for(reopened).price_for("local:my-finetune")
        assert (price.input_per_mtok, price.output_per_mtok, price.cached_read_per_mtok) == (0.4, 1.6, 0.04)
        assert price.tiers == (Tier(100_000, 0.8, 3.2, None, None),)
        assert catalog_for(reopened).call_cost("local:my-finetune", 200_000, 0) == pytest.approx(0.16)
    finally:
        reopened.close()


def test_eval_set_costs_use_the_catalog_passed_in(ws):
    from core.evaluation.loading import load_csv

    csv = (b"item_id,model,label,prediction,input_tokens,output_tokens,cached_input_tokens\n"
           b"1,gpt-4o-mini,a,a,1000,100,0\n1,mystery-model,a,a,1000,100,0\n"
           b"2,gpt-4o-mini,b,a,2000,0,1000\n2,mystery-model,b,b,10,10,0\n")
    es = load_csv(csv, name="t.csv")
    j, k = es.models.index("gpt-4o-mini"), es.models.index("mystery-model")
    assert es.cost[:, j] == pytest.approx([(1000 * 0.15 + 100 * 0.6) / 1e6, (1000 * 0.15 + 1000 * 0.075) / 1e6])
    assert np.isnan(es.cost[:, k]).all() and es.cost_source["mystery-model"] == "unknown"

    set_override(ws, "mystery-model", 1.0, 2.0)
    assert np.isnan(load_csv(csv, name="t.csv").cost[:, k]).all()  # the default has no edits
    es2 = load_csv(csv, name="t.csv", catalog=catalog_for(ws))
    assert es2.cost[:, k] == pytest.approx([(1000 + 200) / 1e6, (10 + 20) / 1e6])
    assert es2.cost_source["mystery-model"] == "catalog"


# -- validation -------------------------------------------------------------------------------
@pytest.mark.parametrize("field,kwargs,got", [
    ("input_per_mtok", dict(input_per_mtok=-1, output_per_mtok=1), "-1"),
    ("output_per_mtok", dict(input_per_mtok=1, output_per_mtok="abc"), "abc"),
    ("cached_read_per_mtok", dict(input_per_mtok=1, output_per_mtok=1, cached_read_per_mtok=float("inf")), "inf"),
    ("cached_write_per_mtok", dict(input_per_mtok=1, output_per_mtok=1, cached_write_per_mtok=True), "True"),
    ("input_per_mtok", dict(input_per_mtok=None, output_per_mtok=1), ""),
])
def test_bad_prices_are_rejected_naming_the_field(ws, field, kwargs, got):
    with pytest.raises(InputError) as err:
        set_override(ws, "m1", **kwargs)
    assert field in str(err.value) and "'m1'" in str(err.value)
    assert err.value.problems[0].column == field and err.value.problems[0].got == got
    assert load_edits(ws) == ()  # nothing stored


def test_bad_tiers_and_model_name_are_rejected(ws):
    with pytest.raises(InputError, match="tier 1 start"):
        set_override(ws, "m1", 1, 1, tiers=[{"start": -5, "input_per_mtok": 1, "output_per_mtok": 1}])
    with pytest.raises(InputError, match="tiers.output_per_mtok"):
        set_override(ws, "m1", 1, 1, tiers='[{"start": 10, "input_per_mtok": 1, "output_per_mtok": -2}]')
    with pytest.raises(InputError, match="JSON list"):
        set_override(ws, "m1", 1, 1, tiers="[{not json")
    with pytest.raises(InputError, match="model name"):
        set_override(ws, "  ", 1, 1)


def test_bad_override_file_names_file_and_field(tmp_path):
    path = write_overrides(tmp_path / "bad.json", [{"model": "x", "input_per_mtok": "cheap", "output_per_mtok": 1}])
    with pytest.raises(InputError) as err:
        read_override_file(path)
    assert "bad.json" in str(err.value) and "input_per_mtok" in str(err.value)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InputError, match="broken.json: not valid JSON"):
        read_override_file(tmp_path / "broken.json")


def test_model_price_cost_accepts_scalars_and_arrays():
    p = ModelPrice("m", None, input_per_mtok=2.0, output_per_mtok=4.0)
    assert float(p.cost(500_000, 250_000)) == pytest.approx(2.0)
    assert p.cost(np.zeros((2, 3)), np.ones((2, 3)) * 1e6).shape == (2, 3)


def test_batch_price_is_genai_prices_own_else_half():
    # (found by mutation testing: nothing told genai-prices' own batch price from the 50% rule)
    from dataclasses import replace

    from core.pricing.usage import batch_price

    grok = default_catalog().price_for("x-ai:grok-4.20")  # standard $1.25 in / $2.50 out per M
    assert (grok.layer, grok.input_per_mtok, grok.output_per_mtok) == ("genai-prices", 1.25, 2.5)
    own = batch_price(grok)  # genai-prices lists its batch price: $1.00 / $2.00 (80%, not 50%)
    assert (own.input_per_mtok, own.output_per_mtok) == pytest.approx((1.0, 2.0))
    local = batch_price(replace(grok, layer="override"))  # an override or edit: halved
    assert (local.input_per_mtok, local.output_per_mtok) == pytest.approx((0.625, 1.25))

"""Policies and signals on hand-computed 4-item cases, JSON round trips, RouterBench routability.

The eval set (models sorted by the loader: big, mid, small; costs/latencies per call fixed):

    item task    value  label | small pred/score/conf | mid          | big
    i1   billing    10  A     | A 1 .9                | A 1 .8       | A 1 .95
    i2   billing   500  B     | C 0 .6                | B 1 .7       | B 1 .9
    i3   legal      50  A     | B 0 .3                | B 0 .4       | A 1 .9
    i4   legal    2000  D     | D 1 .5                | C 0 .9       | C 0 .8
    cost $: small .001, mid .004, big .010;  latency ms: small 100, mid 300, big 1000
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import InputError
from core.evaluation.loading import load_csv
from core.routing.policies import (
    Cascade,
    FallbackChain,
    HybridRouter,
    MajorityEnsemble,
    Oracle,
    SingleModel,
    TaskRouter,
    ValueTiers,
    WeightedSelection,
    policy_from_dict,
)
from core.routing.signals import Agreement, SelfConfidence, Signal, signal_from_dict
from tests.helpers.routing import COST, LAT, ROWS, tiny_csv  # noqa: F401  (the hand-computed set)


@pytest.fixture(scope="module")
def es():
    return load_csv(tiny_csv(), name="tiny.csv")


def kept_models(es, outcome):
    return [es.models[j] for j in outcome.kept]


def tried_models(es, outcome):
    return [sorted(m for m, t in zip(es.models, row) if t) for row in outcome.tried]


def test_single_model(es):
    out = SingleModel("mid").evaluate(es)
    assert kept_models(es, out) == ["mid"] * 4
    assert out.quality == pytest.approx(0.5)
    assert out.cost_per_item == pytest.approx(0.004)
    assert out.latency_percentiles()[50] == pytest.approx(300)
    assert out.escalation_rate == 0.0
    assert out.calls() == {"big": 0, "mid": 4, "small": 0}


def test_two_model_cascade_by_hand(es):
    out = Cascade(["small", "big"], [0.55]).evaluate(es)
    # i1 .9 and i2 .6 clear 0.55 (small kept); i3 .3 and i4 .5 escalate and pay small + big.
    assert kept_models(es, out) == ["small", "small", "big", "big"]
    assert list(out.score) == [1, 0, 1, 0]
    assert list(out.cost) == pytest.approx([0.001, 0.001, 0.011, 0.011])
    assert list(out.latency_ms) == pytest.approx([100, 100, 1100, 1100])
    assert tried_models(es, out) == [["small"], ["small"], ["big", "small"], ["big", "small"]]
    assert out.quality == pytest.approx(0.5)
    assert out.cost_per_item == pytest.approx(0.006)
    assert out.escalation_rate == pytest.approx(0.5)
    assert out.traffic_share() == {"big": 0.5, "mid": 0.0, "small": 0.5}


def test_three_model_cascade_by_hand(es):
    out = Cascade(["small", "mid", "big"], [0.55, 0.5]).evaluate(es)
    # i3: small .3 -> mid .4 -> big; i4: small .5 -> mid .9 (kept).
    assert kept_models(es, out) == ["small", "small", "big", "mid"]
    assert list(out.cost) == pytest.approx([0.001, 0.001, 0.015, 0.005])
    assert list(out.latency_ms) == pytest.approx([100, 100, 1400, 400])
    assert out.quality == pytest.approx(0.5)
    assert out.calls() == {"big": 1, "mid": 2, "small": 4}


def test_cascade_threshold_extremes(es):
    keep_all = Cascade(["small", "big"], [0.0]).evaluate(es)
    assert kept_models(es, keep_all) == ["small"] * 4
    never = Cascade(["small", "big"], [1.01]).evaluate(es)
    assert kept_models(es, never) == ["big"] * 4
    assert never.cost_per_item == pytest.approx(0.011)  # pays small on every item too


def test_agreement_cascade_counts_every_consulted_model(es):
    signal = Agreement(["small", "mid"])
    # small's answer is confirmed by mid on i1 (A/A) and i3 (B/B), not on i2 (C/B), i4 (D/C).
    assert list(signal.scores(es, "small")) == [1.0, 0.0, 1.0, 0.0]
    assert signal.consulted(es, "small") == ["mid"]
    out = Cascade(["small", "big"], [1.0], signal).evaluate(es)
    assert kept_models(es, out) == ["small", "big", "small", "big"]
    assert list(out.score) == [1, 1, 0, 0]
    # step 0 calls small and mid in parallel: cost .005, latency max(100, 300) = 300
    assert list(out.cost) == pytest.approx([0.005, 0.015, 0.005, 0.015])
    assert list(out.latency_ms) == pytest.approx([300, 1300, 300, 1300])
    assert tried_models(es, out)[0] == ["mid", "small"]
    assert out.escalation_rate == pytest.approx(0.5)  # escalated = went past step 0, not "2 calls"


def test_agreement_with_two_cheap_voters(es):
    # small's answer vs mid and big: i1 both agree (1.0), i2 none (0), i3 mid only (.5), i4 none.
    assert list(Agreement(["small", "mid", "big"]).scores(es, "small")) == [1.0, 0.0, 0.5, 0.0]


def test_self_confidence_signal_and_its_absence(es, routerbench_test):
    assert list(SelfConfidence().scores(es, "small")) == [0.9, 0.6, 0.3, 0.5]
    rb = load_csv(routerbench_test)
    with pytest.raises(InputError, match="reports no confidence"):
        Cascade(["mistralai/mixtral-8x7b-chat", "gpt-4-1106-preview"], [0.5]).evaluate(rb)
    # ...but agreement among cheaper models routes it (RouterBench ships only output text).
    voters = ["mistralai/mixtral-8x7b-chat", "zero-one-ai/Yi-34B-Chat", "gpt-3.5-turbo-1106"]
    out = Cascade([voters[0], "gpt-4-1106-preview"], [1.0], Agreement(voters)).evaluate(rb)
    strong = SingleModel("gpt-4-1106-preview").evaluate(rb)
    assert 0 < out.escalation_rate < 1
    assert out.cost_per_item < strong.cost_per_item
    assert out.quality > SingleModel(voters[0]).evaluate(rb).quality


def test_task_router(es):
    out = TaskRouter({"billing": "small"}, default="big").evaluate(es)
    assert kept_models(es, out) == ["small", "small", "big", "big"]
    assert out.quality == pytest.approx(0.5)
    assert out.cost_per_item == pytest.approx(0.0055)
    assert out.escalation_rate == 0.0


def test_value_tiers_global_and_per_task(es):
    out = ValueTiers([(0, "small"), (100, "mid"), (1000, "big")]).evaluate(es)
    assert kept_models(es, out) == ["small", "mid", "small", "big"]  # values 10, 500, 50, 2000
    assert list(out.score) == [1, 1, 0, 0]
    assert out.cost_per_item == pytest.approx(0.004)
    per_task = ValueTiers({"billing": [(0, "small"), (100, "big")], "*": [(0, "mid")]}).evaluate(es)
    assert kept_models(es, per_task) == ["small", "big", "mid", "mid"]
    assert per_task.cost_per_item == pytest.approx(0.00475)
    with pytest.raises(InputError, match="no 'revenue' column"):
        ValueTiers([(0, "small")], value_column="revenue").evaluate(es)


def test_value_tiers_an_item_worth_exactly_a_minimum_goes_to_that_tier(es):
    # values 10, 500, 50, 2000: i1 is worth exactly 10, i2 exactly 500, i4 exactly 2000
    out = ValueTiers([(0, "small"), (10, "mid"), (500, "big"), (2000, "small")]).evaluate(es)
    assert kept_models(es, out) == ["mid", "big", "mid", "small"]
    # one cent less than a minimum stays in the tier below
    below = ValueTiers([(0, "small"), (10.01, "mid"), (500.01, "big")]).evaluate(es)
    assert kept_models(es, below) == ["small", "mid", "mid", "big"]


def test_weighted_selection(es):
    # task fit: billing small .5, mid 1, big 1; legal small 1 (.5/.5), mid 0, big 1.
    # cheapness (log10 scale): small 1, mid .398, big 0; with weight .1 the cheaper wins ties.
    p = WeightedSelection({"task_fit": 1, "cost": 0.1}).fit(es)
    assert p.table_ == {"billing": "mid", "legal": "small"}
    out = p.evaluate(es)
    assert kept_models(es, out) == ["mid", "mid", "small", "small"]
    limited = WeightedSelection({"task_fit": 1}, max_cost=0.002).fit(es)
    assert limited.table_ == {"billing": "small", "legal": "small"}
    unmet = WeightedSelection({"task_fit": 1, "cost": 0.1}, min_quality=0.9).fit(es)
    assert unmet.unmet_ == ["legal"]
    assert unmet.table_["billing"] == "mid"


def fallback_csv() -> bytes:
    return (b"item_id,model,score,output,cost_usd,latency_ms\n"
            b"1,primary,1,yes,0.001,100\n1,backup,1,yes,0.01,500\n"
            b"2,primary,,,,2000\n2,backup,0,no,0.01,500\n"
            b"3,primary,0,no,0.001,100\n3,backup,1,yes,0.01,500\n")


def test_fallback_chain_only_on_failure():
    es = load_csv(fallback_csv(), name="fallback.csv")
    out = FallbackChain(["primary", "backup"]).evaluate(es)
    # item 2's primary call left no score or output: the backup answers; a wrong answer (item 3)
    # is not a failure, so no fallback there.
    assert [es.models[j] for j in out.kept] == ["primary", "backup", "primary"]
    assert list(out.cost) == pytest.approx([0.001, 0.01, 0.001])  # the failed call is not billed
    assert list(out.latency_ms) == pytest.approx([100, 2500, 100])  # but it was waited for
    assert out.quality == pytest.approx(1 / 3)
    assert out.escalation_rate == pytest.approx(1 / 3)


def test_fallback_chain_a_failed_call_that_was_billed_stays_in_the_cost():
    # item 2's primary call failed (no score, no output) but the provider billed it $0.002
    # (e.g. a timeout after the answer was generated): the item cost $0.002 + backup $0.01
    es = load_csv(fallback_csv().replace(b"2,primary,,,,2000", b"2,primary,,,0.002,2000"),
                  name="fallback.csv")
    out = FallbackChain(["primary", "backup"]).evaluate(es)
    assert [es.models[j] for j in out.kept] == ["primary", "backup", "primary"]
    assert list(out.cost) == pytest.approx([0.001, 0.012, 0.001])
    assert out.cost_per_item == pytest.approx(0.014 / 3)


def test_majority_ensemble(es):
    out = MajorityEnsemble(["small", "mid", "big"]).evaluate(es)
    # i1 AAA; i2 C,B,B -> B (mid); i3 B,B,A -> B (small); i4 D,C,C -> C (mid)
    assert kept_models(es, out) == ["small", "mid", "small", "mid"]
    assert list(out.score) == [1, 1, 0, 0]
    assert list(out.cost) == pytest.approx([0.015] * 4)
    assert list(out.latency_ms) == pytest.approx([1000] * 4)  # parallel: the slowest
    tie = MajorityEnsemble(["small", "mid"]).evaluate(es)
    assert kept_models(es, tie)[1] == "small"  # C vs B: the first listed model wins the tie


def test_oracle(es):
    out = Oracle().evaluate(es)
    assert kept_models(es, out) == ["small", "mid", "big", "small"]
    assert out.quality == 1.0
    assert out.cost_per_item == pytest.approx(0.004)
    # Among mid and big, i4 has no correct model: the cheapest (mid) is kept.
    assert kept_models(es, Oracle(["mid", "big"]).evaluate(es))[3] == "mid"


ALL_POLICIES = [
    SingleModel("big"),
    Cascade(["small", "mid", "big"], [0.55, 0.5]),
    Cascade(["small", "big"], [1.0], Agreement(["small", "mid"])),
    TaskRouter({"billing": "small"}, default="big"),
    HybridRouter({"legal": "big", "billing": {"models": ["small", "big"], "thresholds": [0.85]}}, default="mid"),
    ValueTiers([(0, "small"), (100, "mid"), (1000, "big")]),
    ValueTiers({"billing": [(0, "small"), (100, "big")], "*": [(0, "mid")]}),
    WeightedSelection({"task_fit": 1, "cost": 0.1}, max_cost=0.02),
    FallbackChain(["small", "big"]),
    MajorityEnsemble(["small", "mid", "big"]),
    Oracle(),
    Oracle(["mid", "big"]),
]


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=lambda p: p.kind)
def test_json_round_trip_gives_the_same_outcome(es, policy):
    before = policy.fit(es).evaluate(es)
    again = policy_from_dict(json.loads(json.dumps(policy.to_dict())))
    after = again.evaluate(es)
    assert type(again) is type(policy)
    assert np.array_equal(before.kept, after.kept)
    assert np.array_equal(before.tried, after.tried)
    assert np.allclose(before.cost, after.cost)
    # Oracle() means "every model of the eval set": it names none
    assert set(policy.models_called()) <= set(es.models) and (policy.models_called() or isinstance(policy, Oracle))


def test_bad_policies_are_input_errors(es):
    with pytest.raises(InputError, match="needs 1 threshold"):
        Cascade(["small", "big"], [0.5, 0.5])
    with pytest.raises(InputError, match="Unknown model 'nope'"):
        Cascade(["small", "nope"], [0.5]).evaluate(es)
    with pytest.raises(InputError, match="Unknown policy kind"):
        policy_from_dict({"kind": "magic"})
    with pytest.raises(InputError, match="malformed"):
        policy_from_dict({"kind": "cascade", "models": ["a", "b"]})
    with pytest.raises(InputError, match="Unknown signal"):
        signal_from_dict("telepathy")


def test_signal_interface_is_uniform():
    for signal in (SelfConfidence(), Agreement(["a", "b"])):
        assert isinstance(signal, Signal)
        assert signal_from_dict(signal.to_dict()).to_dict() == signal.to_dict()


@pytest.mark.parametrize("seed", range(3))
def test_oracle_matches_a_per_item_search(seed):
    from tests.helpers.routing import synthetic_evalset

    es = synthetic_evalset(300, 4, seed=seed, nan_frac=0.2)
    pick = Oracle().choose(es)
    for i in range(es.n_items):  # the slow, obvious way, item by item
        s, c = es.score[i], es.cost[i]
        eligible = np.ones(4, bool) if np.isnan(s).all() else (s == np.nanmax(s))
        priced = np.where(eligible & ~np.isnan(c), c, np.inf)
        expected = int(np.argmin(priced)) if np.isfinite(priced).any() else int(np.argmax(eligible))
        assert pick[i] == expected

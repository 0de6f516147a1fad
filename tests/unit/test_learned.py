"""The learned correctness signal and the learned router (core.routing.learned)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from core.errors import InputError
from core.routing.policies import Cascade, SingleModel, policy_from_dict
from core.routing.policies.learned import LearnedRouter
from core.routing.signals import signal_from_dict
from core.routing.signals.learned import LearnedCorrectness
from tests.helpers.learned import keyword_evalset

ES = keyword_evalset(400, seed=1)
TRAIN, TEST = ES.select(rows=np.arange(300)), ES.select(rows=np.arange(300, 400))


@pytest.fixture(scope="module")
def signal():
    return LearnedCorrectness(["small", "big"]).fit(TRAIN)


@pytest.fixture(scope="module")
def router():
    return LearnedRouter(["small", "big"], threshold=0.6).fit(TRAIN)


def _auc(es, sig, model="small"):
    y = es.score[:, es.model_index(model)]
    return roc_auc_score(y, sig.scores(es, model))


def test_learned_signal_beats_chance_on_held_out_rows(signal):
    assert _auc(TEST, signal) > 0.8


def test_learned_signal_uses_numeric_metadata_when_there_is_no_text():
    es = keyword_evalset(400, seed=2, with_text=False)
    sig = LearnedCorrectness(["small"]).fit(es.select(rows=np.arange(300)))
    assert _auc(es.select(rows=np.arange(300, 400)), sig) > 0.8
    assert "difficulty" in sig.features_.state_["numeric"]


def test_a_column_naming_the_oracle_model_is_never_a_feature(signal):
    state = signal.features_.state_
    assert "oracle_model_to_route_to" not in state["categorical"]
    assert "oracle_model_to_route_to" not in state["numeric"]


def test_scores_are_probabilities_without_nan(signal):
    s = signal.scores(TEST, "small")
    assert s.shape == (100,) and np.all((s >= 0) & (s <= 1)) and not np.isnan(s).any()


def test_json_round_trip_gives_identical_predictions(signal):
    again = signal_from_dict(json.loads(json.dumps(signal.to_dict())))
    for m in ("small", "big"):
        assert np.array_equal(again.scores(TEST, m), signal.scores(TEST, m))


def test_edited_policy_file_is_refused(signal):
    d = json.loads(json.dumps(signal.to_dict()))
    d["models"]["small"]["intercept"] += 1.0
    with pytest.raises(InputError, match="sha256"):
        signal_from_dict(d)


def test_unknown_model_is_named(signal):
    with pytest.raises(InputError, match="'nope'"):
        signal.scores(TEST, "nope")


def test_router_sends_keyword_items_to_big_and_saves_money(router):
    out = router.evaluate(TEST)
    small, big = SingleModel("small").evaluate(TEST), SingleModel("big").evaluate(TEST)
    assert out.quality > small.quality + 0.2
    assert out.cost_per_item < 0.8 * big.cost_per_item
    assert (out.tried.sum(axis=1) == 1).all()  # a router calls exactly one model per item
    hard = TEST.items["input"].str.contains("refund").to_numpy()
    kept_big = out.kept == TEST.model_index("big")
    assert kept_big[hard].mean() > 0.8 and kept_big[~hard].mean() < 0.2


def test_router_threshold_extremes(router):
    P = router.probabilities(TEST)
    assert router.cost_order_ == ("small", "big")
    # threshold 0: everything clears at the cheapest model
    assert (router.choose(TEST, P, threshold=0.0) == 0).all()
    # threshold above 1: nothing clears, each item goes to its most likely model
    assert np.array_equal(router.choose(TEST, P, threshold=1.01), np.argmax(P, axis=1))


def test_router_json_round_trip_routes_identically(router):
    again = policy_from_dict(json.loads(json.dumps(router.to_dict())))
    assert isinstance(again, LearnedRouter)
    assert np.array_equal(again.evaluate(TEST).kept, router.evaluate(TEST).kept)


def test_cascade_with_learned_signal_round_trips(signal):
    cascade = Cascade(["small", "big"], [0.5], signal.restricted(["small"]))
    again = policy_from_dict(json.loads(json.dumps(cascade.to_dict())))
    a, b = cascade.evaluate(TEST), again.evaluate(TEST)
    assert np.array_equal(a.kept, b.kept) and a.cost_per_item == b.cost_per_item
    assert a.quality > SingleModel("small").evaluate(TEST).quality


def test_learned_signal_with_agreement_features_names_consulted_models():
    sig = LearnedCorrectness(["small"], consult=["big"]).fit(TRAIN)
    assert sig.consulted(TRAIN, "small") == ["big"]
    # agreement with big (right 97%) tells when small is right: a strong feature
    assert _auc(TEST, sig) > 0.8


def test_unfitted_router_says_so():
    with pytest.raises(InputError, match="not fitted"):
        LearnedRouter(["small", "big"]).evaluate(TEST)

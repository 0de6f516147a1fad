"""The hybrid router (issue 12 item 3): a task table whose entries are a model or a cascade with
its own threshold; its out-of-fold family in the optimizer. Hand-computed on the 4-item set of
test_policies.py, properties on synthetic sets."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import InputError
from core.evaluation.loading import load_csv
from core.routing.optimize.families import Family, build_families, hybrid_tables, lift_over_chord
from core.routing.optimize.search import recommend
from core.routing.policies import Cascade, HybridRouter, Mix, SingleModel, TaskRouter, policy_from_dict
from core.routing.signals.prompt_correctness import fold_indices
from tests.helpers.routing import synthetic_evalset, tiny_csv


@pytest.fixture
def es():
    return load_csv(tiny_csv(), name="tiny.csv")


SPAM_AT_85 = {"legal": "big", "billing": {"models": ["small", "big"], "thresholds": [0.85]}}


def test_legal_straight_to_big_billing_cascades_at_its_threshold_by_hand(es):
    # i1 billing: small says .9 >= .85, kept (right, $.001, 100 ms); i2 billing: .6 -> big (right,
    # $.001 + $.010, 1100 ms); i3, i4 legal -> big (right, wrong; $.010, 1000 ms each)
    out = HybridRouter(SPAM_AT_85, default="mid").evaluate(es)
    assert out.score.tolist() == [1, 1, 1, 0]
    assert out.cost.tolist() == pytest.approx([0.001, 0.011, 0.010, 0.010])
    assert out.latency_ms.tolist() == [100, 1100, 1000, 1000]
    assert out.escalated.tolist() == [False, True, False, False]
    assert out.calls() == {"small": 2, "mid": 0, "big": 3}
    # each task its own threshold: billing at .5 keeps both small answers (i2 wrong, $.001)
    low = HybridRouter({**SPAM_AT_85, "billing": {"models": ["small", "big"], "thresholds": [0.5]}}, "mid")
    assert low.evaluate(es).score.tolist() == [1, 0, 1, 0]
    # legal cascading at .4 while billing stays at .85: i3 (.3) escalates, i4 (.5) keeps small (right)
    both = HybridRouter({"legal": {"models": ["small", "big"], "thresholds": [0.4]},
                         "billing": SPAM_AT_85["billing"]}, "mid").evaluate(es)
    assert both.score.tolist() == [1, 1, 1, 1] and both.escalated.tolist() == [False, True, True, False]
    assert both.cost.tolist() == pytest.approx([0.001, 0.011, 0.011, 0.001])


def test_tasks_not_in_the_table_take_the_default_entry_which_may_be_a_cascade(es):
    out = HybridRouter({"legal": "small"}, default={"models": ["mid", "big"], "thresholds": [0.75]}).evaluate(es)
    # billing i1: mid .8 kept; i2: mid .7 -> big; legal i3, i4: small
    assert out.kept.tolist() == [es.model_index(m) for m in ("mid", "big", "small", "small")]
    assert out.escalated.tolist() == [False, True, False, False]


def test_a_model_only_table_is_the_task_router(es):
    table = {"billing": "small", "legal": "big"}
    a, b = HybridRouter(table, "mid").evaluate(es), TaskRouter(table, "mid").evaluate(es)
    assert a.kept.tolist() == b.kept.tolist() and a.cost.tolist() == b.cost.tolist()


def test_each_entry_decides_as_its_own_policy_which_the_gateway_runs(es):
    policy = HybridRouter({"billing": {"models": ["small", "mid", "big"], "thresholds": [0.85, 0.75]},
                           "legal": "big"}, "mid", signal={"kind": "agreement", "models": ["small", "mid"]})
    out = policy.evaluate(es)
    for task in ("billing", "legal", None):
        rows = np.flatnonzero(es.tasks == task) if task else np.arange(0)
        alone = policy.entry_policy(task).evaluate(es)
        assert out.kept[rows].tolist() == alone.kept[rows].tolist()
        assert out.cost[rows].tolist() == alone.cost[rows].tolist()
    assert isinstance(policy.entry_policy("legal"), SingleModel)
    assert isinstance(policy.entry_policy("billing"), Cascade)
    assert policy.entry_policy(None).model == policy.entry_policy("unknown").model == "mid"


def test_round_trip_through_json_and_the_registry(es):
    policy = HybridRouter(SPAM_AT_85, default={"models": ["small", "mid"], "thresholds": [0.7]})
    again = policy_from_dict(json.loads(json.dumps(policy.to_dict())))
    assert isinstance(again, HybridRouter) and again.to_dict() == policy.to_dict()
    assert again.evaluate(es).cost.tolist() == policy.evaluate(es).cost.tolist()
    assert policy.models_called() == ("big", "small", "mid")
    agree = HybridRouter(SPAM_AT_85, "mid", signal={"kind": "agreement", "models": ["small", "mid"]})
    assert agree.models_called() == ("big", "small", "mid")  # the voter is called too


def test_a_learned_signal_is_fitted_once_and_saved_once():
    from tests.helpers.learned import keyword_evalset

    train, test = keyword_evalset(400, 0), keyword_evalset(200, 1)
    policy = HybridRouter({"support": {"models": ["small", "big"], "thresholds": [0.5]}}, "big",
                          signal={"kind": "learned"})
    with pytest.raises(InputError, match="not fitted"):
        policy.evaluate(test)
    policy.fit(train)
    saved = json.loads(json.dumps(policy.to_dict()))
    assert json.dumps(saved).count('"kind": "learned"') == 1
    again = policy_from_dict(saved)
    out = policy.evaluate(test)
    assert again.evaluate(test).kept.tolist() == out.kept.tolist()
    # the learned signal tells when small is right: better than small alone, cheaper than big
    assert out.quality > SingleModel("small").evaluate(test).quality
    assert out.cost_per_item < SingleModel("big").evaluate(test).cost_per_item


@pytest.mark.parametrize("entry, message", [
    ({"models": ["small"], "thresholds": []}, "at least 2"),
    ({"models": ["small", "big"], "thresholds": [0.5, 0.6]}, "needs 1 numeric"),
    ({"models": ["small", "big"], "thresholds": ["high"]}, "numeric thresholds"),
    ({"model": "small"}, "must be a model name"),
])
def test_bad_entries_are_named(entry, message):
    with pytest.raises(InputError, match=message) as err:
        HybridRouter({"spam": entry}, "big")
    assert "spam" in str(err.value)


# -- the optimizer's hybrid family ------------------------------------------------------------------
def task_shaped(n: int, seed: int):
    """Three tasks: on 'a' the cheap model is always right, on 'c' it is never right, on 'b' its
    confidence says when it is: a per-task plan (a -> m0, b -> cascade, c -> strong) is best."""
    es = synthetic_evalset(n, 3, seed=seed)
    t = es.tasks
    es.score[t == "a", 0] = 1.0
    es.score[t == "c", 0] = 0.0
    b = t == "b"
    es.confidence[b, 0] = 0.2 + 0.6 * es.score[b, 0] + 0.2 * np.random.default_rng(seed).random(b.sum())
    return es


def confidence_cascades(es, folds):
    built = build_families(es, list(es.models), folds=folds)
    return [f for f in built.families if f.name.endswith("(self-reported confidence)")]


def test_hybrid_entries_are_chosen_out_of_fold():
    """Each held-out row's entry comes from a table built on the other folds: changing the scores
    of fold 0's rows does not change what fold 0's rows call (only what they score), although
    it changes the tables built on every row."""
    es, flipped = task_shaped(1500, 3), task_shaped(1500, 3)
    folds = fold_indices(es.n_items, 5, 0)
    held = folds[0][1]
    flipped.score[held] = 1.0 - flipped.score[held]  # fold 0 now says the opposite everywhere
    before = hybrid_tables(es, list(es.models), es.cost, None, folds, confidence_cascades(es, folds))
    after = hybrid_tables(flipped, list(es.models), es.cost, None, folds, confidence_cascades(flipped, folds))
    assert before and after, "a task-shaped set offers hybrid tables"
    by_name = {f.name: f for f in after}
    same = [f for f in before if f.name in by_name]
    assert same
    for f in same:
        assert (f.keep.tried[held] == by_name[f.name].keep.tried[held]).all(), f.name
    labels = lambda fams: {f.signal["label"] for f in fams}  # noqa: E731
    assert labels(before) != labels(after)  # in-sample tables would have moved


def test_the_optimizer_picks_a_hybrid_table_where_tasks_differ_and_it_holds_out():
    train, test = task_shaped(3000, 1), task_shaped(3000, 2)
    rec = recommend(train, "quality>=0.9", test=test)
    parts = [rec.policy.a, rec.policy.b] if isinstance(rec.policy, Mix) else [rec.policy]
    assert any(isinstance(p, HybridRouter) for p in parts), rec.family
    hybrid = next(p for p in parts if isinstance(p, HybridRouter))
    assert hybrid.entry_for("a") == "m0"  # the cheap model is always right on 'a'
    assert isinstance(hybrid.entry_for("b"), dict)  # its confidence decides on 'b'
    lo, hi = rec.cv["quality_ci"]
    assert lo - 0.02 <= rec.held_out["quality"] <= hi + 0.02
    assert rec.held_out["quality"] >= 0.9 - 0.02
    # on the unseen rows: the strong model's quality (0.898) at about a quarter of its cost, far
    # above the random mix of single models at that cost (0.74)
    strong = SingleModel("m2").evaluate(test)
    assert rec.held_out["quality"] >= strong.quality - 0.01
    assert rec.held_out["cost_per_item"] < 0.35 * strong.cost_per_item
    assert rec.held_out["quality"] > rec.held_out["random_mix"]["quality_at_cost"] + 0.1
    # the saved plan round-trips and scores the same
    again = policy_from_dict(json.loads(json.dumps(rec.policy.to_dict())))
    assert again.evaluate(test).score.tolist() == rec.policy.evaluate(test).score.tolist()


def test_cascades_are_ranked_by_their_lift_over_their_own_chord():
    es = task_shaped(600, 4)
    folds = fold_indices(es.n_items, 5, 0)
    fam = confidence_cascades(es, folds)[0]
    noise = Family("noise", "cascade", fam.keep, fam.escalate,
                   np.random.default_rng(0).random(es.n_items), fam.make)
    perfect_z = np.nan_to_num(fam.keep.score) - np.nan_to_num(fam.escalate.score)
    perfect = Family("perfect", "cascade", fam.keep, fam.escalate, perfect_z, fam.make)
    assert lift_over_chord(perfect) > 0.05 > abs(lift_over_chord(noise))

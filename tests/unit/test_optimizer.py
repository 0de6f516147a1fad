"""The honest optimizer (core.routing.optimize.goals, core.routing.optimize.candidates, core.routing.optimize.search) and saved policies."""
from __future__ import annotations

import json

import numpy as np
import pytest

import core.routing.optimize.search as optimizer
from core.errors import InputError
from core.routing.optimize.candidates import Family, _FittedSingle
from core.routing.optimize.goals import Goal, parse_goal, pick, satisfied
from core.routing.optimize.search import fit_goal, recommend, score_policy_file
from core.routing.optimize.store import list_policies, load_policy, policy_json, save_policy
from core.routing.policies import Cascade, SingleModel
from tests.helpers.learned import confidence_evalset, keyword_evalset

SCORE_KEYS = {"quality", "cost_per_item", "items", "calls"}


# -- goals -------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, goal", [
    ("match:big", Goal("match", "big", None, 0.01)),
    ("match:big~0", Goal("match", "big", None, 0.0)),
    ("match: gpt-4-1106-preview ~0.02", Goal("match", "gpt-4-1106-preview", None, 0.02)),
    ("quality>=0.9", Goal("quality", None, 0.9)),
    ("quality >= 0.9", Goal("quality", None, 0.9)),
    ("cost<=0.002", Goal("cost", None, 0.002)),
    ("cost<=$0.002", Goal("cost", None, 0.002)),
    ("share:big<=0.25", Goal("share", "big", 0.25)),
])
def test_goal_forms(text, goal):
    assert parse_goal(text) == goal
    assert parse_goal(str(goal)) == goal  # str() is a goal string again


@pytest.mark.parametrize("text", ["", "matc:big", "quality>=1.5", "quality>=abc", "cost<=-1",
                                  "match:", "share:big<=2", "share:<=0.2", "quality<=0.9"])
def test_bad_goals_say_what_is_accepted(text):
    with pytest.raises(InputError) as err:
        parse_goal(text)
    assert "match:MODEL" in str(err.value) and "cost<=USD_PER_ITEM" in str(err.value)


def test_goal_naming_an_absent_model_lists_the_models():
    with pytest.raises(InputError, match="small"):
        parse_goal("match:gpt-9", ("big", "small"))


def test_pick_cheapest_meeting_quality_and_best_within_budget():
    q = np.array([0.70, 0.90, 0.95, 0.90])
    c = np.array([1.0, 3.0, 9.0, 2.0])
    assert pick(Goal("quality", None, 0.9), q, c, None, 0.9) == (3, True)
    assert pick(Goal("cost", None, 3.0), q, c, None, None) == (3, True)  # tie on q: cheaper
    assert pick(Goal("quality", None, 0.99), q, c, None, 0.99) == (2, False)  # none: best q
    assert pick(Goal("cost", None, 0.5), q, c, None, None) == (0, False)  # none: cheapest
    share = np.array([0.0, 0.5, 1.0, 0.2])
    assert pick(Goal("share", "big", 0.3), q, c, share, None) == (3, True)


def test_cost_goal_keeps_a_point_costing_exactly_the_budget():
    goal = parse_goal("cost<=0.3")
    q = np.array([0.70, 0.90, 0.95])
    # a point costing exactly $0.30 is within "cost <= $0.30": the better of the two affordable
    assert pick(goal, q, np.array([0.1, 0.3, 0.31]), None, None) == (1, True)
    # ... also when its cost was summed in floats: 0.1 + 0.2 = 0.30000000000000004
    noisy = np.array([0.1, 0.1 + 0.2, 0.31])
    assert noisy[1] > 0.3
    assert pick(goal, q, noisy, None, None) == (1, True)
    assert satisfied(goal, q, noisy, None, None).tolist() == [True, True, False]


# -- a set where the right answer is known -------------------------------------------------------
@pytest.fixture(scope="module")
def known():
    es = confidence_evalset(200)
    return es, recommend(es, "match:big~0", folds=4)


def test_optimizer_finds_the_known_cascade(known):
    es, rec = known
    assert isinstance(rec.policy, Cascade)
    assert rec.policy.models == ("small", "big")
    assert rec.policy.signal.kind == "confidence"
    conf = es.confidence[:, es.model_index("small")]
    # any threshold between the wrong answers' top confidence and the right ones' lowest
    assert conf[conf < 0.5].max() < rec.policy.thresholds[0] <= conf[conf >= 0.5].min()
    expected_cost = 0.001 + 0.4 * 0.01
    assert rec.in_sample["quality"] == 1.0
    assert rec.in_sample["cost_per_item"] == pytest.approx(expected_cost)
    # thresholds sit midway between confidences, so every fold's policy splits its unseen rows
    # right too
    assert rec.held_out["quality"] == 1.0
    assert rec.held_out["cost_per_item"] == pytest.approx(expected_cost)
    assert rec.satisfied
    assert rec.baseline["model"] == "big" and rec.baseline["savings"] == pytest.approx(1 - 0.005 / 0.01)
    assert "cross-validation" in rec.held_out["source"] and "in-sample" in rec.in_sample["source"]


def test_every_row_is_held_out_exactly_once(known):
    es, rec = known
    assert rec.fold_of.shape == (es.n_items,)
    assert set(np.unique(rec.fold_of)) == {0, 1, 2, 3}
    assert rec.held_out["items"] == es.n_items


def test_held_out_rows_are_never_seen_when_fitting(monkeypatch):
    """A spy family records which items each fit saw and which items were then scored."""
    es = confidence_evalset(60)
    log = []

    class Spy(_FittedSingle):
        def __init__(self, train):
            super().__init__("big")
            log.append(("fit", set(train.items["item_id"])))

    class SpyPolicy(SingleModel):
        def evaluate(self, evalset):
            log.append(("score", set(evalset.items["item_id"])))
            return super().evaluate(evalset)

    Spy.policy = lambda self, param: SpyPolicy("big")
    monkeypatch.setattr(optimizer, "default_families",
                        lambda train, goal, candidates=None: [Family("spy", "single",
                                                                     lambda tr, ctx: Spy(tr))])
    rec = recommend(es, "quality>=0.5", folds=3)
    fits = [ids for kind, ids in log if kind == "fit"]
    scores = [ids for kind, ids in log if kind == "score"]
    # 3 folds: fit then score the held-out rows; then the final refit on everything
    assert len(fits) == 4
    for fit_ids, held_ids in zip(fits[:3], scores[:3]):
        assert fit_ids.isdisjoint(held_ids)
        assert len(fit_ids) + len(held_ids) == 60
    assert set().union(*scores[:3]) == set(es.items["item_id"])
    assert fits[3] == set(es.items["item_id"])
    assert rec.held_out["items"] == 60


def test_held_out_differs_from_in_sample_on_noisy_data():
    es = keyword_evalset(240, seed=3, noise=0.15)
    rec = recommend(es, "cost<=0.005", candidates=["small", "big"], folds=3)
    assert rec.family != "single big"
    assert (rec.held_out["quality"], rec.held_out["cost_per_item"]) != \
        (rec.in_sample["quality"], rec.in_sample["cost_per_item"])
    assert not rec.candidates.empty and {"family", "cv_quality", "cv_cost_per_item"} <= set(rec.candidates)


def test_test_set_figures_are_the_policy_scored_on_the_test_set(known):
    es, _ = known
    test = confidence_evalset(100, seed=9)
    rec = recommend(es, "cost<=0.004", test=test, folds=3)
    out = rec.policy.evaluate(test)
    assert rec.held_out["quality"] == out.quality
    assert rec.held_out["cost_per_item"] == pytest.approx(out.cost_per_item)
    assert rec.held_out["items"] == 100 and "test set" in rec.held_out["source"]
    assert rec.held_out["cost_per_item"] <= 0.004 + 1e-9


def test_share_goal_caps_calls_to_the_strong_model(known):
    es, _ = known
    rec = recommend(es, "share:big<=0.2", folds=3)
    assert rec.in_sample["share"] <= 0.2 + 1e-9
    assert rec.in_sample["calls"].get("big", 0) <= 0.2 * es.n_items


def test_tiny_or_unlabeled_sets_are_refused():
    es = confidence_evalset(3)
    with pytest.raises(InputError, match="at least 4"):
        recommend(es, "match:big")


# -- policy files and the score contract ---------------------------------------------------------
def test_fit_goal_file_and_score_contract(tmp_path, known):
    es, _ = known
    fitted = fit_goal(es, "match:big~0", folds=3)
    json.dumps(fitted, allow_nan=False)  # strictly JSON
    assert fitted["goal"] == "match:big~0" and fitted["policy"]["kind"] == "cascade"
    assert fitted["validation"]["quality"] == 1.0 and "fitted_on" in fitted
    assert "price_snapshot_date" in fitted
    path = tmp_path / "p.json"
    path.write_text(json.dumps(fitted))
    result = score_policy_file(path, es)
    assert set(result) >= SCORE_KEYS
    assert result["items"] == 200 and result["quality"] == 1.0
    assert result["calls"]["small"] == 200 and result["calls"]["big"] == 80
    assert isinstance(result["cost_per_item"], float)


def test_score_refuses_a_policy_naming_a_model_the_test_set_lacks(tmp_path, known):
    es, _ = known
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"policy": Cascade(["small", "gpt-9"], [0.5]).to_dict()}))
    with pytest.raises(InputError, match="gpt-9"):
        score_policy_file(path, es)
    path.write_text("{not json")
    with pytest.raises(InputError, match="not a JSON policy file"):
        score_policy_file(path, es)


def test_saved_policies_round_trip(ws, known, tmp_path):
    es, rec = known
    pid = save_policy(ws, "support cascade", rec.policy, {"goal": str(rec.goal),
                                                          "validation": rec.held_out})
    frame = list_policies(ws)
    assert frame.loc[0, "id"] == pid and frame.loc[0, "name"] == "support cascade"
    assert frame.loc[0, "kind"] == "cascade" and frame.loc[0, "held_out_quality"] == 1.0
    policy, meta = load_policy(ws, pid)
    assert meta["goal"] == "match:big~0" and meta["name"] == "support cascade"
    assert np.array_equal(policy.evaluate(es).kept, rec.policy.evaluate(es).kept)
    path = tmp_path / "download.json"
    path.write_text(policy_json(policy, meta))
    assert score_policy_file(path, es)["quality"] == rec.policy.evaluate(es).quality
    with pytest.raises(InputError):
        load_policy(ws, 999)
    with pytest.raises(InputError, match="name"):
        save_policy(ws, " ", rec.policy)
    assert len(list_policies(ws)) == 1  # the refused save stored nothing

"""The honest optimizer (core.routing.optimize: goals, families, search, policy files) and saved policies."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.optimize.goals import Goal, parse_goal, pick, satisfied
from core.routing.optimize.policy_file import fit_goal, score_policy_file
from core.routing.optimize.search import recommend
from core.routing.optimize.store import list_policies, load_policy, policy_json, save_policy
from core.routing.policies import Cascade, Mix, policy_from_dict
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
    return es, recommend(es, "match:big", folds=4)


def _cascades(policy):
    return [policy.a, policy.b] if isinstance(policy, Mix) else [policy]


def test_optimizer_finds_the_known_cascade(known):
    """small is right exactly when its confidence >= 0.5 (60% of items): the plan is the
    confidence cascade small -> big (or a mix of two of its thresholds) at about half big's cost."""
    es, rec = known
    for part in _cascades(rec.policy):
        assert isinstance(part, Cascade) and part.models == ("small", "big")
        assert part.signal.kind == "confidence"
    h = rec.held_out
    assert h["quality"] >= 0.99 - 1e-9 and rec.satisfied
    assert h["quality_ci"][0] <= h["quality"] <= h["quality_ci"][1]
    assert h["cost_per_item"] == pytest.approx(0.001 + 0.4 * 0.01, rel=0.1)  # the perfect cut: $0.005
    assert rec.baseline["model"] == "big" and rec.baseline["savings"] == pytest.approx(0.5, abs=0.05)
    assert "cross-validation" in h["source"] and "in-sample" in rec.in_sample["source"]
    # escalations only: small's unsure 40% (big is not called alongside it)
    assert h["escalation_rate"] == pytest.approx(0.4, abs=0.05)


def test_every_row_is_held_out_exactly_once(known):
    es, rec = known
    assert rec.fold_of.shape == (es.n_items,)
    assert set(np.unique(rec.fold_of)) == {0, 1, 2, 3}
    assert rec.held_out["items"] == es.n_items


def test_out_of_fold_signals_see_no_information_in_noise():
    """Labels that are coin flips: a learner fitted on a row predicts it (in-sample AUC far above
    0.5), the out-of-fold prediction cannot, so the signal is gated off."""
    from core.routing.signals.prompt_correctness import PromptCorrectness

    es = keyword_evalset(300, seed=4)
    rng = np.random.default_rng(0)
    noisy = EvalSet(es.name, es.items, es.models, np.column_stack([es.score[:, 0], rng.random(300) < 0.5]).astype(float),
                    es.cost, es.latency_ms, es.confidence, es.input_tokens, es.output_tokens,
                    es.cached_input_tokens, es.prediction, es.output)
    from sklearn.linear_model import LogisticRegression

    from core.evaluation.intervals import roc_auc
    from core.routing.signals.prompt_features import prompt_texts

    sig = PromptCorrectness(["small"], members=(("tfidf", "lr"),)).fit(noisy)
    X, y = sig.features_.transform(prompt_texts(noisy), only={"tfidf"})["tfidf"], noisy.score[:, 1]
    in_sample = LogisticRegression(C=0.3, max_iter=1000).fit(X, y).predict_proba(X)[:, 1]
    assert roc_auc(y, in_sample)[0] > 0.65  # a learner scored on its own rows finds "signal"
    assert abs(sig.auc_["small"]["auc"] - 0.5) < 0.08 and not sig.helps_["small"]
    assert np.ptp(sig.probabilities(noisy, ["small"])) == 0  # gated: the training rate


def test_held_out_differs_from_in_sample_on_noisy_data():
    es = keyword_evalset(240, seed=3, noise=0.15)
    rec = recommend(es, "cost<=0.005", candidates=["small", "big"], folds=3)
    assert rec.family != "single big"
    assert rec.held_out["cost_per_item"] <= 0.005 + 1e-9
    assert (rec.held_out["quality"], rec.held_out["cost_per_item"]) != \
        (rec.in_sample["quality"], rec.in_sample["cost_per_item"])
    assert not rec.candidates.empty and {"family", "cv_quality", "cv_cost_per_item", "signal_auc"} <= set(rec.candidates)
    assert {"signal", "auc", "se", "helps"} <= set(rec.signals)


def test_an_unmet_goal_names_the_best_achievable_point(known):
    es, _ = known
    rec = recommend(es, "cost<=0.0005", folds=4)  # small alone costs $0.001
    assert not rec.satisfied
    assert rec.best_achievable["cost_per_item"] == pytest.approx(0.001)
    assert rec.best_achievable["quality"] == pytest.approx(0.6)


def test_test_set_figures_are_the_policy_scored_on_the_test_set(known):
    es, _ = known
    test = confidence_evalset(100, seed=9)
    rec = recommend(es, "cost<=0.004", test=test, folds=3)
    out = rec.policy.evaluate(test)
    assert rec.held_out["quality"] == out.quality
    assert rec.held_out["cost_per_item"] == pytest.approx(out.cost_per_item)
    assert rec.held_out["items"] == 100 and "test set" in rec.held_out["source"]
    assert rec.cv["cost_per_item"] <= 0.004 + 1e-9
    assert {"quality_at_cost", "cost_at_quality"} <= set(rec.held_out["random_mix"])
    assert rec.held_out["oracle"]["quality"] == 1.0  # big is always right


def test_share_goal_caps_calls_to_the_strong_model(known):
    es, _ = known
    rec = recommend(es, "share:big<=0.2", folds=3)
    assert rec.cv["share"] <= 0.2 + 1e-9
    assert rec.in_sample["calls"].get("big", 0) <= 0.25 * es.n_items


def test_tiny_or_unlabeled_sets_are_refused():
    es = confidence_evalset(3)
    with pytest.raises(InputError, match="at least 4"):
        recommend(es, "match:big")


# -- policy files and the score contract ---------------------------------------------------------
def test_fit_goal_file_and_score_contract(tmp_path, known):
    es, _ = known
    fitted = fit_goal(es, "match:big", folds=3)
    json.dumps(fitted, allow_nan=False)  # strictly JSON
    assert fitted["goal"] == "match:big" and fitted["policy"]["kind"] in ("cascade", "mix")
    v = fitted["validation"]
    assert v["quality"] >= 0.99 and v["quality_ci"][0] <= v["quality"] and "fitted_on" in fitted
    assert fitted["goal_met_on_held_out"] and "price_snapshot_date" in fitted
    path = tmp_path / "p.json"
    path.write_text(json.dumps(fitted))
    test = confidence_evalset(100, seed=5)
    result = score_policy_file(path, test)
    assert set(result) >= SCORE_KEYS | {"goal", "baseline", "random_mix", "oracle", "estimate"}
    out = policy_from_dict(fitted["policy"]).evaluate(test)
    assert result["items"] == 100 and result["quality"] == out.quality
    assert result["goal"]["met"] == (out.quality >= 1.0 - 0.01 - 1e-9)
    assert result["baseline"]["model"] == "big" and result["baseline"]["quality"] == 1.0
    assert result["baseline"]["cost_ratio"] == pytest.approx(out.cost_per_item / 0.01)
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
    assert frame.loc[0, "kind"] == rec.policy.kind and frame.loc[0, "held_out_quality"] == rec.held_out["quality"]
    policy, meta = load_policy(ws, pid)
    assert meta["goal"] == "match:big" and meta["name"] == "support cascade"
    assert np.array_equal(policy.evaluate(es).kept, rec.policy.evaluate(es).kept)
    path = tmp_path / "download.json"
    path.write_text(policy_json(policy, meta))
    assert score_policy_file(path, es)["quality"] == rec.policy.evaluate(es).quality
    with pytest.raises(InputError):
        load_policy(ws, 999)
    with pytest.raises(InputError, match="name"):
        save_policy(ws, " ", rec.policy)
    assert len(list_policies(ws)) == 1  # the refused save stored nothing

"""Router v2 (issue 12): the mix, the pooled out-of-fold frontier and its choice, monotone goals,
answers compared by what they conclude, held-out AUC. Hand-computed cases for small sets,
properties for random ones; no scikit-learn fit here (fast)."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from core.evaluation.evalset import EvalSet
from core.evaluation.intervals import roc_auc, signal_helps
from core.routing.optimize.choose import choose
from core.routing.optimize.families import Arm, Family
from core.routing.optimize.goals import parse_goal
from core.routing.optimize.menu import FrontierTable, hull_ids, plans_on_ids
from core.routing.policies import Cascade, Mix, SingleModel, policy_from_dict
from core.routing.policies.mix import mix_share
from core.routing.signals import Agreement


# -- the mix -------------------------------------------------------------------------------------
def four_items() -> EvalSet:
    """Hash shares of i1..i4 (no input: hashed on the ids): 0.738, 0.732, 0.406, 0.956."""
    return EvalSet.from_arrays("t", ["small", "big"], score=[[0, 1], [1, 1], [0, 1], [1, 0]],
                               cost=[[1, 10]] * 4, items=pd.DataFrame({"item_id": ["i1", "i2", "i3", "i4"]}))


def test_mix_sends_the_items_below_alpha_to_b_by_hand():
    es = four_items()
    assert [round(mix_share(i), 3) for i in ("i1", "i2", "i3", "i4")] == [0.738, 0.732, 0.406, 0.956]
    out = Mix(SingleModel("small"), SingleModel("big"), alpha=0.735).evaluate(es)
    # i2 (0.732) and i3 (0.406) go to big: scores 1, 1; i1, i4 stay on small: 0, 1
    assert out.score.tolist() == [0, 1, 1, 1] and out.quality == 0.75
    assert out.cost_per_item == (1 + 10 + 10 + 1) / 4
    assert out.calls() == {"small": 2, "big": 2}
    assert Mix(SingleModel("small"), SingleModel("big"), 0.0).evaluate(es).calls() == {"small": 4, "big": 0}
    assert Mix(SingleModel("small"), SingleModel("big"), 1.0).evaluate(es).calls() == {"small": 0, "big": 4}


def test_mix_follows_scikit_learn_conventions_and_round_trips():
    mix = Mix(SingleModel("small"), Cascade(["small", "big"], [0.5]), alpha=0.3, salt="s1")
    params = mix.get_params()
    assert set(params) == {"a", "b", "alpha", "salt"} and params["alpha"] == 0.3
    again = policy_from_dict(mix.to_dict())
    assert isinstance(again, Mix) and again.to_dict() == mix.to_dict()
    assert mix.set_params(alpha=0.6).alpha == 0.6
    with pytest.raises(Exception, match="between 0 and 1"):
        Mix(SingleModel("a"), SingleModel("b"), 1.5)


def test_mix_split_is_uniform_and_salted():
    texts = [f"prompt {i}" for i in range(20_000)]
    shares = np.array([mix_share(t) for t in texts])
    assert abs((shares < 0.3).mean() - 0.3) < 0.012  # 4 standard errors
    other = np.array([mix_share(t, "other salt") for t in texts])
    assert abs(np.corrcoef(shares, other)[0, 1]) < 0.03  # an independent split


# -- the frontier table, hull and plans ------------------------------------------------------------
def family(name, keep_score, esc_score, keep_cost, esc_cost, z, kind="cascade") -> Family:
    n = len(z)

    def arm(s, c, escalated=False):
        return Arm(np.asarray(s, float), np.broadcast_to(np.asarray(c, float), (n,)).copy(), np.zeros(n),
                   (0,), escalated)

    return Family(name, kind, arm(keep_score, keep_cost), arm(esc_score, esc_cost, True),
                  np.asarray(z, float), lambda t, name=name: SingleModel(name) if kind == "single" else
                  Cascade(["cheap", "strong"], [float(np.clip(t, 0, 1.01))]))


def toy_families():
    """cheap is right on rows 0-5 of 10 at $1; strong on all at $10; a cascade whose signal z
    ranks the rows perfectly (escalating costs $1 + $10)."""
    cheap = np.r_[np.ones(6), np.zeros(4)]
    z = np.array([0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.3, 0.2, 0.1, 0.05])
    return [family("cheap", cheap, cheap, 1, 1, np.zeros(10), "single"),
            family("strong", np.ones(10), np.ones(10), 10, 10, np.zeros(10), "single"),
            family("cascade", cheap, np.ones(10), 1, 11, z)]


def test_frontier_table_points_by_hand():
    table = FrontierTable(toy_families())
    q, c, _ = table.points()
    casc = table.family_of == 2
    # keep the top k = 0..10 rows: k <= 6 keeps only right answers
    assert table.cut[casc].tolist() == list(range(11))
    assert np.allclose(q[casc], [1, 1, 1, 1, 1, 1, 1, 0.9, 0.8, 0.7, 0.6])
    assert np.allclose(c[casc], [11 - k for k in range(11)])  # (k * 1 + (10 - k) * 11) / 10
    assert (q[~casc].tolist(), c[~casc].tolist()) == ([0.6, 1.0], [1.0, 10.0])
    # thresholds sit midway between the last kept and the first escalated z
    assert table.t[casc][6] == pytest.approx((0.65 + 0.3) / 2)


def test_bootstrap_batch_equals_one_resample_at_a_time():
    table = FrontierTable(toy_families())
    W = np.random.default_rng(1).poisson(1.0, size=(5, 10)).astype(float) + 0.1
    QB, CB = table.points_batch(W)
    for w, qb, cb in zip(W, QB, CB):
        q, c, _ = table.points(w)
        assert np.allclose(qb, q) and np.allclose(cb, c)


def test_the_plan_is_the_cheapest_mix_on_the_pooled_hull_by_hand():
    fams = toy_families()
    choice = choose(fams, parse_goal("quality>=0.95"), 0.95, correct=False, mix_fallback=False)
    # hull: cheap (1, 0.6) -> cascade keeping 6 (5, 1.0); 0.95 = 0.6 + 0.875 x 0.4
    fa, _ = choice.vertex(choice.a)
    fb, tb = choice.vertex(choice.b)
    assert (fa.name, fb.name) == ("cheap", "cascade") and tb == pytest.approx(0.475)
    assert choice.alpha == pytest.approx(0.875, abs=1e-3)
    assert choice.estimate["quality"] == pytest.approx(0.95, abs=2e-4)
    assert choice.estimate["cost_per_item"] == pytest.approx(1 + 0.875 * 4, abs=2e-3)
    assert choice.met


def test_a_signal_without_information_gives_the_random_mix():
    """A cascade whose signal is noise cannot beat the random mix beyond chance: the plan is the
    mix of the two single models, on the random-mix line (0.9 = 0.6 + alpha x 0.4 at $1 + alpha x 9)."""
    rng = np.random.default_rng(5)
    n = 400
    cheap = (rng.random(n) < 0.6).astype(float)
    fams = [family("cheap", cheap, cheap, 1, 1, np.zeros(n), "single"),
            family("strong", np.ones(n), np.ones(n), 10, 10, np.zeros(n), "single")]
    fams += [family(f"noise {i}", cheap, np.ones(n), 1, 11, rng.random(n)) for i in range(3)]
    choice = choose(fams, parse_goal("quality>=0.9"), 0.9)
    assert not choice.estimate["used_learned"]
    assert {choice.vertex(choice.a)[0].name, choice.vertex(choice.b)[0].name} == {"cheap", "strong"}
    alpha = (0.9 - cheap.mean()) / (1 - cheap.mean())
    assert choice.estimate["cost_per_item"] == pytest.approx(1 + 9 * alpha, abs=0.01)
    # the same rows with a perfect signal: the learned plan, far cheaper
    fams.append(family("perfect", cheap, np.ones(n), 1, 11, cheap + rng.random(n) * 0.1))
    learned = choose(fams, parse_goal("quality>=0.9"), 0.9)
    assert learned.estimate["used_learned"] and learned.estimate["cost_per_item"] < 0.6 * (1 + 9 * alpha)


def random_families(rng, n=300, k=3):
    p_cheap = rng.uniform(0.4, 0.8)
    difficulty = rng.random(n)
    cheap = (difficulty > 1 - p_cheap).astype(float)
    strong = (rng.random(n) < rng.uniform(0.85, 0.98)).astype(float)
    fams = [family("cheap", cheap, cheap, 1, 1, np.zeros(n), "single"),
            family("strong", strong, strong, 10, 10, np.zeros(n), "single")]
    for i in range(k):
        z = difficulty + rng.normal(0, rng.uniform(0.05, 1.0), n)
        fams.append(family(f"cascade {i}", cheap, strong, 1, 11, z))
    return fams


def test_pooled_choice_equals_brute_force_over_every_pair_of_points():
    rng = np.random.default_rng(7)
    for _ in range(5):
        fams = random_families(rng, n=120)
        table = FrontierTable(fams, int(2 * np.ceil(np.sqrt(120))))
        q, c, _ = table.points()
        for target in (0.8, 0.9):
            choice = choose(fams, parse_goal(f"quality>={target}"), target, correct=False, mix_fallback=False)
            best = np.inf
            for i, j in itertools.product(range(len(q)), repeat=2):
                if q[i] >= target:
                    best = min(best, c[i])
                elif q[j] > target:
                    a = (target - q[i]) / (q[j] - q[i])
                    best = min(best, (1 - a) * c[i] + a * c[j])
            if np.isfinite(best):
                assert choice.estimate["cost_per_item"] == pytest.approx(best, rel=2e-3, abs=2e-3)


def test_goals_are_monotone_over_random_eval_sets():
    """Asking for more quality never returns a plan that is cheaper (or lower in quality); a
    larger budget never returns less quality."""
    rng = np.random.default_rng(0)
    for _ in range(8):
        fams = random_families(rng)
        targets = np.linspace(0.6, 0.99, 7)
        plans = [choose(fams, parse_goal(f"quality>={t:.4f}"), float(t), n_boot=40).estimate for t in targets]
        costs = [p["cost_per_item"] for p in plans]
        quality = [p["quality"] for p in plans]
        assert all(b >= a - 1e-12 for a, b in zip(costs, costs[1:])), costs
        assert all(b >= a - 1e-12 for a, b in zip(quality, quality[1:])), quality
        budgets = [choose(fams, parse_goal(f"cost<={b}"), None, n_boot=40).estimate["quality"]
                   for b in (1.5, 3.0, 6.0, 9.0)]
        assert all(b >= a - 1e-12 for a, b in zip(budgets, budgets[1:])), budgets


def test_hull_and_plans_by_hand():
    q, c = np.array([0.5, 0.7, 0.6, 0.9, 0.75]), np.array([1.0, 2.0, 2.5, 4.0, 3.5])
    h = hull_ids(q, c)
    assert h.tolist() == [0, 1, 3]  # (2.5, 0.6) dominated; (3.5, 0.75) under the chord 0.7 -> 0.9
    a, b, alpha = plans_on_ids(q, c, h, [0.4, 0.6, 0.8, 0.95])
    assert a.tolist() == [0, 0, 1, 3] and b.tolist() == [0, 1, 3, 3]
    assert np.allclose(alpha, [0, 0.5, 0.5, 0])


# -- answers compared by what they conclude ------------------------------------------------------------
def test_agreement_on_paraphrased_answers():
    prompts = ["Which is blue?\nA) grass\nB) sky\nC) sun"] * 3
    es = EvalSet.from_arrays("t", ["a", "b", "c"], score=np.ones((3, 3)),
                             items=pd.DataFrame({"item_id": ["1", "2", "3"], "input": prompts}),
                             output=[["The answer is (B)", "b.", "B)\nbecause the sky is blue"],
                                     ["Answer: c", "(C)", "A"],
                                     ["A chart of colours", "A", "a"]])
    assert es.conclusion_kind == "choice"
    # item 1: both peers conclude B; item 2: one of two; item 3: a concludes nothing
    assert Agreement(["a", "b", "c"]).scores(es, "a").tolist() == [1.0, 0.5, 0.0]
    numbers = EvalSet.from_arrays("n", ["a", "b"], score=np.ones((2, 2)),
                                  output=[["so she pays #### 1,234", "The total is 1234."],
                                          ["It is $12.50.", "12.4"]])
    assert numbers.conclusion_kind == "number"
    assert Agreement(["a", "b"]).scores(numbers, "a").tolist() == [1.0, 0.0]


# -- held-out AUC ------------------------------------------------------------------------------------
def test_roc_auc_by_hand_and_the_gate():
    # positives 0.9, 0.4; negatives 0.5, 0.1: pairs won 0.9>0.5, 0.9>0.1, 0.4>0.1; lost 0.4<0.5
    auc, se = roc_auc(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.5, 0.1]))
    assert auc == 0.75
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    y, s = rng.random(500) < 0.6, rng.normal(size=500)
    s[y] += 0.5
    assert roc_auc(y, s)[0] == pytest.approx(roc_auc_score(y, s))
    assert signal_helps(*roc_auc(y, s)) and not signal_helps(*roc_auc(y, rng.normal(size=500)))
    ties = roc_auc(np.array([1, 0]), np.array([0.5, 0.5]))[0]
    assert ties == 0.5


# -- calibration audit --------------------------------------------------------------------------------
def test_calibration_numbers_by_hand():
    from core.routing.calibration import calibration_audit, reliability

    # bins of 0.5: [0, 0.5) holds 0.1, 0.2, 0.3 (right 1 of 3), [0.5, 1] holds 0.8, 1.0 (right 2 of 2)
    table, ece = reliability([0.1, 0.2, 0.3, 0.8, 1.0], [0, 1, 0, 1, 1], bins=2)
    assert table["items"].tolist() == [3, 2]
    assert table["mean_signal"].tolist() == pytest.approx([0.2, 0.9])
    assert table["accuracy"].tolist() == pytest.approx([1 / 3, 1.0])
    assert ece == pytest.approx(3 / 5 * abs(1 / 3 - 0.2) + 2 / 5 * 0.1)
    # perfectly calibrated by construction: ECE 0
    assert reliability([0.25] * 4 + [0.75] * 4, [1, 0, 0, 0, 1, 1, 1, 0], bins=2)[1] == pytest.approx(0.0)
    es = EvalSet.from_arrays("t", ["small", "big"], score=[[1, 1], [0, 1], [1, 1], [0, 1]],
                             confidence=[[0.9, 1], [0.8, 1], [0.6, 1], [0.2, 1]],
                             items=pd.DataFrame({"item_id": list("abcd"), "task": ["x", "x", "y", "y"]}))
    from core.routing.signals import SelfConfidence

    audit = calibration_audit(es, SelfConfidence(), ["small"], bins=2).set_index("task")
    assert audit.loc["all", "accuracy"] == 0.5 and audit.loc["all", "mean_signal"] == pytest.approx(0.625)
    # task x: 0.9 right, 0.8 wrong (one bin: accuracy 0.5, mean 0.85); over all, right (0.9, 0.6)
    # beat wrong (0.8, 0.2) in 3 of 4 pairs
    assert audit.loc["x", "ece"] == pytest.approx(0.35)
    assert audit.loc["all", "auc"] == pytest.approx(0.75)


# -- the Routing page's starting table ------------------------------------------------------------------
def test_the_starting_task_table_costs_at_most_one_point():
    """Issue 13 item 15: the weighted-selection start cost 16 quality points on ARC. Per task, the
    cheapest model within one point of the task's best: 'qa' has big .95 ($.01), mid .945 ($.004),
    small .90 ($.001) -> mid; 'chat' has everyone right -> small."""
    from core.routing.policies import TaskRouter
    from core.routing.policies.task_router import best_table

    n = 300
    i = np.arange(n)
    qa = i < 200  # 200 qa items, then 100 chat items everyone answers right
    score = np.column_stack([(i < 190) | ~qa, (i < 189) | ~qa, (i < 180) | ~qa]).astype(float)
    es = EvalSet.from_arrays("t", ["big", "mid", "small"], score=score, cost=np.tile([0.01, 0.004, 0.001], (n, 1)),
                             items=pd.DataFrame({"item_id": [str(k) for k in i],
                                                 "task": np.where(qa, "qa", "chat")}))
    table, default = best_table(es)
    q = es.model_stats["quality"]
    assert table == {"chat": "small", "qa": "mid"}
    out = TaskRouter(table, default).evaluate(es)
    assert out.quality >= q.max() - 0.01
    assert out.quality == pytest.approx((189 + 100) / 300)
    assert out.cost_per_item == pytest.approx((200 * 0.004 + 100 * 0.001) / 300)


def test_escalation_counts_escalations_not_voters():
    """Issue 12: agreement voters are called with the first step; an escalation is an item that
    went on to the next step. a and b agree on items 0 and 1 of 4: escalation 0.5, not 1.0."""
    from core.routing.optimize.search import figures

    es = EvalSet.from_arrays("t", ["a", "b", "c"], score=np.ones((4, 3)), cost=np.tile([1.0, 1.0, 10.0], (4, 1)),
                             prediction=[["x", "x", "x"], ["y", "y", "y"], ["x", "z", "x"], ["y", "x", "y"]])
    out = Cascade(["a", "c"], [1.0], Agreement(["a", "b"])).evaluate(es)
    assert out.calls() == {"a": 4, "b": 4, "c": 2}
    assert figures(out)["escalation_rate"] == 0.5
    assert figures(Mix(SingleModel("a"), Cascade(["a", "c"], [1.0], Agreement(["a", "b"])), 1.0)
                   .evaluate(es))["escalation_rate"] == 0.5

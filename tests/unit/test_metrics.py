"""Leaderboard metrics against numbers computed by hand on tiny eval sets."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from core.evaluation.loading import load_csv
from core.evaluation.metrics import (
    LEADERBOARD_COLUMNS,
    classification_tasks,
    confusion,
    disagreement_mask,
    disagreements,
    leaderboard,
    per_task,
    plain_notes,
    quality_intervals,
    summary,
)
from core.settings import REPO_ROOT

DATA = REPO_ROOT / "tests" / "data"
Z = 1.959963984540054  # two-sided 95% normal quantile


@pytest.fixture(scope="module")
def tiny():
    return load_csv(DATA / "tiny_long.csv")


def row(board: pd.DataFrame, model: str) -> pd.Series:
    return board.set_index("model").loc[model]


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    denom = 1 + Z * Z / n
    center = (p + Z * Z / (2 * n)) / denom
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / denom
    return center - half, center + half


def test_leaderboard_by_hand(tiny):
    board = leaderboard(tiny)
    assert list(board.columns) == LEADERBOARD_COLUMNS
    assert board["model"].tolist() == ["big", "small"]  # best quality first
    small, big = row(board, "small"), row(board, "big")
    assert small["quality"] == pytest.approx(2 / 3)
    assert (small["scored"], small["missing"]) == (3, 0)
    assert small["accuracy"] == pytest.approx(2 / 3)
    # classes {4, paris, blue, lyon}: F1 = 1, 0, 1, 0 -> macro 0.5
    assert small["macro_f1"] == pytest.approx(0.5)
    assert big["macro_f1"] == pytest.approx(1.0)
    assert small["cost_per_item"] == pytest.approx(0.001)
    assert small["cost_per_correct"] == pytest.approx(0.0015)  # 0.003 spent / 2 correct
    assert big["cost_per_correct"] == pytest.approx(0.02)
    # numpy's linear percentiles of [100, 200, 300] and [10, 20, 30]
    assert (big["latency_p50"], big["latency_p95"], big["latency_p99"]) == pytest.approx((200, 290, 298))
    assert (small["latency_p50"], small["latency_p95"], small["latency_p99"]) == pytest.approx((20, 29, 29.8))
    assert big["mean_confidence"] == pytest.approx((0.9 + 0.95) / 2)  # the blank one is left out
    assert small["mean_confidence"] == pytest.approx(0.7)


def test_wilson_interval_matches_hand_formula_and_statsmodels(tiny):
    small = row(leaderboard(tiny), "small")
    lo, hi = wilson(2, 3)
    assert (small["quality_low"], small["quality_high"]) == pytest.approx((lo, hi), abs=1e-9)
    sm_lo, sm_hi = proportion_confint(2, 3, alpha=0.05, method="wilson")
    assert (small["quality_low"], small["quality_high"]) == pytest.approx((sm_lo, sm_hi), abs=1e-12)
    assert small["interval"] == "wilson"
    assert (round(lo, 4), round(hi, 4)) == (0.2077, 0.9385)


def test_graded_scores_get_a_t_interval():
    q = quality_intervals(np.array([[0.5], [1.0], [0.25], [0.75]])).iloc[0]
    # mean 0.625, sd sqrt(0.3125 / 3), t(0.975, 3) = 3.182446305
    half = 3.182446305284263 * math.sqrt(0.3125 / 3) / 2
    assert q["quality"] == pytest.approx(0.625)
    assert q["low"] == pytest.approx(0.625 - half)
    assert q["high"] == 1.0  # 0.625 + 0.5136 clipped to the score range
    assert q["interval"] == "t"


def test_missing_scores_are_counted_not_zero():
    es = load_csv(DATA / "tiny_missing.csv")
    board = leaderboard(es)
    a, b = row(board, "a"), row(board, "b")
    assert a["quality"] == pytest.approx(2 / 3) and (a["scored"], a["missing"]) == (3, 0)
    assert b["quality"] == 1.0 and (b["scored"], b["missing"]) == (1, 2)
    assert np.isnan(b["cost_per_item"]) and np.isnan(b["cost_per_correct"])
    assert b["cost_source"] == "unknown"
    assert np.isnan(b["latency_p95"]) and np.isnan(b["accuracy"])
    notes = " ".join(plain_notes(es))
    assert "Cost is unknown for a, b" in notes
    assert "Latency is unknown" in notes
    assert "b 2" in notes


def test_partly_known_cost_averages_known_items():
    es = load_csv(b"item_id,model,score,cost_usd\n1,a,1,0.1\n2,a,0,\n3,a,1,0.3\n", name="p.csv")
    a = row(leaderboard(es), "a")
    assert a["cost_per_item"] == pytest.approx(0.2) and a["cost_known"] == 2
    assert any("averages only" in n for n in plain_notes(es))


def test_cost_per_item_includes_unscored_items():
    # A call is paid even when its answer was not graded (the RouterBench definition).
    es = load_csv(b"item_id,model,score,cost_usd\n1,a,1,0.1\n2,a,,0.5\n", name="c.csv")
    a = row(leaderboard(es), "a")
    assert a["cost_per_item"] == pytest.approx(0.3)
    assert a["cost_per_correct"] == pytest.approx(0.3)


def test_model_subset_and_unknown_model(tiny):
    board = leaderboard(tiny, ["small"])
    assert board["model"].tolist() == ["small"]
    from core.errors import InputError

    with pytest.raises(InputError, match="Unknown model 'nope'"):
        leaderboard(tiny, ["nope"])


def test_per_task_by_hand(tiny):
    table = per_task(tiny).set_index(["task", "model"])
    assert table.loc[("math", "small"), "quality"] == 1.0
    assert table.loc[("geo", "small"), "quality"] == pytest.approx(0.5)
    assert table.loc[("geo", "big"), "n"] == 2
    assert table.loc[("geo", "small"), "cost_per_item"] == pytest.approx(0.001)
    assert list(per_task(tiny)["task"].unique()) == ["math", "geo"]


def test_confusion_per_task(tiny):
    labels, matrix = confusion(tiny, "small", task="geo")
    assert labels == ["blue", "lyon", "paris"]
    assert matrix.tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 0]]  # true paris -> predicted lyon
    labels, matrix = confusion(tiny, "small")
    assert labels == ["4", "blue", "lyon", "paris"] and matrix.sum() == 3
    assert classification_tasks(tiny) == ["math", "geo"]
    assert confusion(load_csv(DATA / "tiny_missing.csv"), "a") == ([], pytest.approx(np.zeros((0, 0))))


def test_disagreements_side_by_side(tiny):
    mask = disagreement_mask(tiny)
    assert mask.tolist() == [False, True, False]  # 'Blue' and ' blue ' agree once normalized
    table = disagreements(tiny, ["big", "small"])
    assert table.attrs["total"] == 1
    first = table.iloc[0]
    assert first["item_id"] == "2" and first["label"] == "Paris"
    assert (first["big answer"], first["small answer"]) == ("Paris", "Lyon")
    assert (first["big score"], first["small score"]) == (1.0, 0.0)


def test_disagreements_ordered_by_spread_and_limited():
    es = load_csv(b"item_id,model,score,output\n1,a,1,x\n1,b,0.5,y\n2,a,1,x\n2,b,0,z\n3,a,1,x\n3,b,1,x\n",
                  name="d.csv")
    table = disagreements(es, limit=1)
    assert table.attrs["total"] == 2 and len(table) == 1
    assert table.iloc[0]["item_id"] == "2"  # spread 1.0 before spread 0.5
    assert table.iloc[0]["b answer"] == "z"  # raw output when there is no prediction


def test_disagreement_mask_random_property():
    rng = np.random.default_rng(0)
    score = rng.integers(0, 2, size=(500, 3)).astype(float)
    score[rng.random((500, 3)) < 0.1] = np.nan
    lines = ["item_id,model,score"] + [
        f"{i},{m},{'' if np.isnan(score[i, j]) else score[i, j]}"
        for i in range(500) for j, m in enumerate("abc")]
    es = load_csv(("\n".join(lines) + "\n").encode(), name="r.csv")
    expected = [len({v for v in score[i] if not np.isnan(v)}) > 1 for i in range(500)]
    assert disagreement_mask(es).tolist() == expected


def test_quality_matches_plain_mean_on_random_sets():
    rng = np.random.default_rng(1)
    score = rng.random((300, 4)).round(2)
    score[rng.random((300, 4)) < 0.2] = np.nan
    q = quality_intervals(score)
    for j in range(4):
        col = score[:, j][~np.isnan(score[:, j])]
        assert q["quality"][j] == pytest.approx(col.mean())
        assert q["scored"][j] == len(col)
        assert q["low"][j] <= q["quality"][j] <= q["high"][j]


def test_summary_shape(tiny):
    assert summary(tiny) == {
        "items": 3,
        "models": [
            {"model": "big", "quality": 1.0, "cost_per_item": pytest.approx(0.02), "scored": 3},
            {"model": "small", "quality": pytest.approx(2 / 3), "cost_per_item": pytest.approx(0.001),
             "scored": 3},
        ],
    }
    s = summary(load_csv(DATA / "tiny_missing.csv"))
    assert s["models"][1] == {"model": "b", "quality": 1.0, "cost_per_item": None, "scored": 1}
    assert summary(load_csv(DATA / "tiny_inputs.csv")) == {"items": 2, "models": []}


def test_model_without_any_score():
    es = load_csv(b"item_id,model,score,output\n1,a,1,x\n1,b,,y\n", name="n.csv")
    b = row(leaderboard(es), "b")
    assert np.isnan(b["quality"]) and b["scored"] == 0 and np.isnan(b["quality_low"])
    assert summary(es)["models"][1]["quality"] is None

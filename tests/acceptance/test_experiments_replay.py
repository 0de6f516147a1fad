"""Replay on RouterBench ARC-Challenge (real outputs): gpt-4-1106-preview against a cheaper cascade.

The cascade asks Yi-34B first and keeps its answer when Mixtral-8x7B and GPT-3.5 both give the
same answer (agreement signal: RouterBench has no confidences); otherwise it escalates to GPT-4.
Numbers are written to test-artifacts/experiments_replay.json for the notes.
"""
from __future__ import annotations

import json

import pytest

from core.evaluation.loading import load_csv
from core.experiments.store import run_ab, run_shadow
from core.routing.policies import Cascade, SingleModel

pytestmark = pytest.mark.acceptance

GPT4 = "gpt-4-1106-preview"
YI = "zero-one-ai/Yi-34B-Chat"
VOTERS = [YI, "mistralai/mixtral-8x7b-chat", "gpt-3.5-turbo-1106"]


@pytest.fixture(scope="module")
def evalset():
    from tests.fixtures.workspace import acceptance_file

    return load_csv(acceptance_file("routerbench", "arc_challenge_test.csv"))


def _cascade():
    return Cascade([YI, GPT4], [1.0], {"kind": "agreement", "models": VOTERS})


def _summary(res) -> dict:
    d = res.to_dict()
    return {"verdict": d["verdict"], "arms": d["arms"], "differences": d["differences"],
            "sample_size": d["sample_size"], "warnings": d["warnings"],
            "rollout": [{k: s[k] for k in ("stage_pct", "n_control", "n_candidate", "quality_diff",
                                           "quality_low", "quality_high", "verdict", "action", "trigger")}
                        for s in d["rollout"]]}


def test_ab_replay_gpt4_vs_agreement_cascade(evalset, artifacts, ws):
    res = run_ab(evalset, SingleModel(GPT4), _cascade(), name="rb-cascade", split=0.5, tolerance=0.02)
    a, b = res.arms["control"], res.arms["candidate"]
    assert a.n_items + b.n_items == evalset.n_items == 445
    for arm in (a, b):
        assert arm.quality.low < arm.quality.value < arm.quality.high
        assert arm.error_rate.value == 0  # every item gets an answer
    q, c = res.differences["quality"], res.differences["cost_per_item"]
    assert q.test == "two-proportion z-test" and q.low < q.diff < q.high
    # the cascade is clearly cheaper...
    assert c.high < 0 and b.cost_per_item.value < 0.6 * a.cost_per_item.value
    # ...but ~220 items per arm cannot show it is within 0.02 of GPT-4: the honest answer is "not yet"
    assert res.verdict.decision == "inconclusive"
    assert res.sample_size is not None and not res.sample_size.enough
    assert any("Too small to decide" in w for w in res.warnings)
    assert [s["stage_pct"] for s in res.rollout] == [5, 25, 50, 100]
    assert res.rollout[-1]["verdict"] == res.verdict.decision  # the 100% stage sees every unit

    sh, added = run_shadow(evalset, SingleModel(GPT4), _cascade(), volume=100_000, ws=ws,
                           name="rb-cascade", tolerance=0.02)
    # paired on all 445 items, the same question has an answer: within tolerance and cheaper
    assert sh.agreement_rate > 0.95
    assert sh.quality.test == "McNemar" and sh.quality.low > -0.02
    assert sh.cost.high < 0
    assert sh.verdict.decision == "go"
    assert added == int(_cascade().evaluate(evalset).tried.sum())
    spent = ws.cursor().execute(
        "select sum(cost_usd) from ledger where source = 'simulation' and experiment = 'rb-cascade'").fetchone()[0]
    assert spent == pytest.approx(sh.cost.candidate * evalset.n_items)

    aa = run_ab(evalset, SingleModel(GPT4), SingleModel(GPT4), name="rb-aa", tolerance=0.02)
    assert aa.differences["cost_per_item"].low <= 0 <= aa.differences["cost_per_item"].high
    assert aa.verdict.decision != "go"  # an A/A test never "saves"

    out = {"ab": _summary(res), "shadow": {k: v for k, v in sh.to_dict().items()
                                           if k not in ("disagreements", "per_task")},
           "aa_verdict": aa.verdict.to_dict()}
    (artifacts / "experiments_replay.json").write_text(json.dumps(out, indent=2, default=str))

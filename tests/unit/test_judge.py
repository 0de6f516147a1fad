"""The LLM judge against the local fake provider servers (real SDKs over real HTTP): scripted
verdicts, agreement and kappa with human scores, position bias, self-agreement, unreadable
replies (counted, never 0), retries, resume, reuse, and judge spend kept apart in the ledger."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.evaluation.loading import load_csv
from core.live.judge import Judge, JudgeJob, parse_verdict
from core.live.scoring import judged
from core.live.types import RunConfig

CSV = b"""item_id,model,input,task,reference,output,score
1,big,Capital of France?,geo,Paris,Paris,1
1,small,Capital of France?,geo,Paris,Lyon,0
2,big,2+2?,math,4,4,1
2,small,2+2?,math,4,5,0
3,big,Colour of the sky?,geo,blue,blue,1
3,small,Colour of the sky?,geo,blue,red,1
4,big,Capital of Japan?,geo,Tokyo,Tokyo,1
4,small,Capital of Japan?,geo,Tokyo,Kyoto,0
"""
FAST = RunConfig(concurrency=4, backoff_base_s=0.01, backoff_cap_s=0.05, flush_interval_s=0.05)


@pytest.fixture
def es():
    return load_csv(CSV, name="judged.csv")


def job_for(ws, es, fake_llm, spec="judge:openai:gpt-4o-mini", **kw):
    judge = Judge.from_spec(spec, against=kw.pop("against", None), rubric=kw.pop("rubric", None))
    return JudgeJob(ws, es, judge, kw.pop("task", None), config=kw.pop("config", FAST),
                    keys={"openai": "sk-fake-0123456789"},
                    base_urls={"openai": fake_llm.base_urls["openai"]}, **kw)


def test_parse_verdict_reads_json_and_lines_and_names_what_is_missing():
    assert parse_verdict('Sure. {"verdict": "fail", "reason": "wrong city"}', "pointwise") == (
        "fail", "wrong city", None)
    assert parse_verdict("Verdict: B", "pairwise")[0] == "B"
    verdict, _, error = parse_verdict('{"verdict": "maybe"}', "pointwise")
    assert verdict is None and "expected one of pass, fail" in error


def test_a_bad_judge_spec_is_refused_before_any_call(ws, es, fake_llm):
    with pytest.raises(InputError, match="judge:PROVIDER:MODEL"):
        Judge.from_spec("judge:")
    with pytest.raises(InputError, match="Unknown provider"):
        Judge.from_spec("judge:acme:big")
    with pytest.raises(InputError, match="'huge', which is not in the eval set"):
        job_for(ws, es, fake_llm, against="huge")
    assert fake_llm.calls == []


def test_pointwise_verdicts_agreement_kappa_and_self_agreement(ws, es, fake_llm):
    job = job_for(ws, es, fake_llm, recheck=3)
    est = job.estimate()
    assert est["calls"].tolist() == [8, 3] and est["pass"].tolist() == ["judging", "re-judging a sample"]
    assert (est["cost_usd"] > 0).all()  # gpt-4o-mini has a catalog price: shown before any call
    result = job.run()
    assert result.status == "finished" and len(fake_llm.calls) == 11
    scored = judged(ws, es, job)
    # the fake judge passes an answer equal to the reference: big 4/4, small 0/4
    assert scored.evalset.score.tolist() == [[1, 0], [1, 0], [1, 0], [1, 0]]
    trust = scored.trust()[0]
    # human: big 1,1,1,1; small 0,0,1,0 -> the judge disagrees only on small's "red" (human 1)
    agreement = trust["agreement"]
    assert (agreement["n"], agreement["accuracy"]) == (8, 7 / 8)
    # p_o = 7/8; human passes 5/8, judge 4/8: p_e = 5/8*4/8 + 3/8*4/8 = 1/2; kappa = 0.75
    assert agreement["kappa"] == pytest.approx(0.75)
    assert agreement["confusion"] == [[4, 1], [0, 3]]
    assert trust["self_agreement"]["n"] == 3 and trust["self_agreement"]["agreement"] == 1.0
    assert "agrees with the human scores on 88% of 8 answers" in scored.caption()
    assert "Cohen's κ 0.75" in scored.caption()
    reasons = scored.detail
    assert reasons[0, 1] == "fake judge: fail"


def test_unreadable_replies_are_counted_never_scored_zero(ws, es, fake_llm):
    fake_llm.script_verdict("I would rather not say.", reason=None, contains="Kyoto", times=-1)
    fake_llm.script_verdict("fail", "scripted: the sky is red at dusk", contains="<answer>\nred")
    job = job_for(ws, es, fake_llm, recheck=0)
    job.run()
    scored = judged(ws, es, job)
    assert np.isnan(scored.evalset.score[3, 1])  # unreadable: not scored, not 0
    assert scored.evalset.score[2, 1] == 0.0
    assert scored.detail[2, 1] == "scripted: the sky is red at dusk"
    board = scored.breakdown().set_index("model")
    assert board.loc["small", "not_scored"] == 1 and board.loc["small", "scored"] == 3
    assert scored.trust()[0]["unreadable"] == 1
    assert "1 unreadable judge replies left unscored" in scored.caption()
    # asked again, the unreadable reply is reused as recorded: no new call
    calls = len(fake_llm.calls)
    again = job_for(ws, es, fake_llm, recheck=0)
    assert again.calls_to_make == 0 and len(fake_llm.calls) == calls


def test_pairwise_both_orders_and_position_bias(ws, es, fake_llm):
    job = job_for(ws, es, fake_llm, against="big", recheck=0)
    assert job.estimate()["calls"].tolist() == [8]  # small's 4 answers x 2 orders
    job.run()
    scored = judged(ws, es, job)
    # small loses every pair to big (big matches the reference): 0; big ties with itself: 0.5
    assert scored.evalset.score[:, 1].tolist() == [0, 0, 0, 0]
    assert scored.evalset.score[:, 0].tolist() == [0.5] * 4
    bias = scored.trust()[0]["position_bias"]
    assert bias["pairs"] == 4 and bias["first_wins"] == 0.5 and bias["consistent"] == 1.0
    shown = [c["user"] for c in fake_llm.calls if "Lyon" in c["user"]]
    assert len(shown) == 2 and shown[0].index("Lyon") != shown[1].index("Lyon")


def test_a_judge_that_always_prefers_the_first_answer_shows_its_bias(ws, es, fake_llm):
    job = job_for(ws, es, fake_llm, spec="judge:openai:judge-first", against="big", recheck=0)
    job.run()
    scored = judged(ws, es, job)
    bias = scored.trust()[0]["position_bias"]
    assert bias["first_wins"] == 1.0 and bias["consistent"] == 0.0
    assert scored.evalset.score[:, 1].tolist() == [0.5] * 4  # a win and a loss each
    assert "the answer shown first wins 100% of decisive verdicts" in scored.caption()


def test_failures_are_retried_and_a_run_resumes(ws, es, fake_llm):
    fake_llm.script("rate_limit", contains="Lyon", times=1, retry_after=0.01)
    fake_llm.script("bad_request", contains="Kyoto", times=1)  # not retryable: fails for now
    job = job_for(ws, es, fake_llm, recheck=0)
    result = job.run()
    assert result.progress.failed == 1 and result.progress.ok == 8 - 1
    assert fake_llm.count(contains="Lyon") == 2  # the 429, then the retry
    scored = judged(ws, es, job)
    assert np.isnan(scored.evalset.score[3, 1])
    again = job_for(ws, es, fake_llm, recheck=0)
    assert again.run_id == job.run_id and again.calls_to_make == 1
    again.run()
    assert judged(ws, es, again).evalset.score[3, 1] == 0.0
    assert fake_llm.count(contains="Kyoto") == 2


def test_judge_spend_is_evaluation_not_production(ws, es, fake_llm):
    from core.spend.queries import SpendFilter, totals

    job_for(ws, es, fake_llm, recheck=0).run()
    rows = ws.cursor().execute("select source, count(*), sum(cost_usd) from ledger group by all").fetchall()
    assert len(rows) == 1 and rows[0][0] == "evaluation" and rows[0][1] == 8 and rows[0][2] > 0
    assert totals(ws, SpendFilter(scope="production"))["cost_usd"] == 0
    assert totals(ws, SpendFilter(scope="evaluation"))["cost_usd"] == pytest.approx(rows[0][2])


def test_a_task_is_judged_alone(ws, es, fake_llm):
    job = job_for(ws, es, fake_llm, task="math", recheck=0)
    assert job.calls_to_make == 2
    job.run()
    scored = judged(ws, es, job)
    assert scored.evalset.score[1].tolist() == [1.0, 0.0]
    assert scored.evalset.score[0].tolist() == [1.0, 0.0]  # geo keeps the file's scores
    assert scored.evalset.score[2].tolist() == [1.0, 1.0]

"""Router acceptance on real data: fit on RouterBench ARC-Challenge train, score on test.

    python -m bench.router_acceptance            # prints a markdown table (takes a few minutes)

For each strategy the thresholds are chosen on the training file for the goal, and the policy
is then scored once on the test file; the optimizer's own pick (cross-validated on train) is the
first row. Results are appended by hand to bench/RESULTS.md ("Router acceptance").
"""
from __future__ import annotations

import time
from pathlib import Path

from core.evaluation.loading import load_csv
from core.routing.optimize.candidates import _FittedCascade, _FittedRouter, _shared_learned
from core.routing.optimize.goals import parse_goal, pick, quality_target
from core.routing.optimize.search import recommend
from core.routing.policies import Oracle, SingleModel
from core.routing.policies.learned import LearnedRouter
from core.routing.signals import Agreement
from core.routing.signals.learned import LearnedCorrectness

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "acceptance" / "routerbench"
GPT4, YI, MIX = "gpt-4-1106-preview", "zero-one-ai/Yi-34B-Chat", "mistralai/mixtral-8x7b-chat"
CI, G35 = "claude-instant-v1", "gpt-3.5-turbo-1106"


def main() -> None:
    train = load_csv(DATA / "arc_challenge_train.csv")
    test = load_csv(DATA / "arc_challenge_test.csv")
    rows = []

    def report(name, policy, note=""):
        out = policy.evaluate(test)
        rows.append((name, out.quality, out.cost_per_item, out.escalation_rate, note))

    report("gpt-4-1106-preview alone", SingleModel(GPT4))
    report("oracle (knows the answers)", Oracle())
    for goal_text in ("match:gpt-4-1106-preview", "match:gpt-4-1106-preview~0",
                      "match:gpt-4-1106-preview~0.02"):
        t = time.perf_counter()
        rec = recommend(train, goal_text, test=test)
        took = time.perf_counter() - t
        report(f"optimizer `{goal_text}` -> {rec.family}", rec.policy,
               f"5-fold CV on train {rec.cv['quality']:.3f} at ${rec.cv['cost_per_item']:.5f}; "
               f"fit {took:.0f} s")
    goal = parse_goal("match:gpt-4-1106-preview")
    target = quality_target(goal, train.score[:, train.model_index(GPT4)])
    strategies = {
        "cascade Yi -> gpt-4, agreement Yi+mixtral": ((YI, GPT4), Agreement([YI, MIX])),
        "cascade Yi -> gpt-4, agreement Yi+mixtral+claude-instant": ((YI, GPT4), Agreement([YI, MIX, CI])),
        "cascade Yi -> gpt-4, agreement Yi+claude-instant+gpt-3.5": ((YI, GPT4), Agreement([YI, CI, G35])),
        "cascade mixtral -> gpt-4, agreement of 4 cheap": ((MIX, GPT4), Agreement([MIX, YI, G35, CI])),
    }
    for name, (chain, signal) in strategies.items():
        fitted = _FittedCascade(chain, signal, train, {})
        curve = fitted.curve(train)
        idx, ok = pick(goal, curve.quality, curve.cost, curve.share, target)
        report(name, fitted.policy(curve.params[idx]),
               f"threshold chosen on train: {curve.params[idx]}, train {curve.quality[idx]:.3f}")
    ctx: dict = {}
    sig = _shared_learned(train, ctx, (MIX, CI), (YI,))
    fitted = _FittedCascade((YI, GPT4), sig, train, ctx)
    curve = fitted.curve(train)
    idx, _ = pick(goal, curve.quality, curve.cost, curve.share, target)
    report("cascade Yi -> gpt-4, learned P(correct) + agreement of mixtral, claude-instant",
           fitted.policy(curve.params[idx]), "threshold on out-of-fold train scores")
    models = (YI, MIX, GPT4)
    router = _FittedRouter(LearnedRouter(models, signal=LearnedCorrectness(models)).fit(train), train)
    curve = router.curve(train)
    idx, _ = pick(goal, curve.quality, curve.cost, curve.share, target)
    report("learned router (text only) over Yi, mixtral, gpt-4", router.policy(curve.params[idx]),
           "threshold chosen in-sample on train")

    print("| strategy | test quality | test $/item | escalation | notes |")
    print("|---|---|---|---|---|")
    for name, q, c, esc, note in rows:
        print(f"| {name} | {q:.3f} | {c:.5f} | {esc:.2f} | {note} |")


if __name__ == "__main__":
    main()

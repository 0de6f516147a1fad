"""Scorers on 200,000 answers (20,000 items × 10 models), beside the same rule applied row by row.

    python -m bench.bench_scorers [--items 20000] [--models 10]

The eval set is synthetic and seeded: multiple-choice replies in the shapes real models write
("B", "B)", "The answer is (B).", refusals), numeric replies, and short free-text ones. For each
scorer it times ``Scorer.score`` (one call of the rule per distinct (output, expected) pair) and,
as the reference measured in the same run, the rule called once per answer in a Python loop; then
the content keys of every answer (sha256) and a store round trip (save, then look up, in DuckDB).
Prints a Markdown table with the machine's load average.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from core.evaluation import score_store
from core.evaluation.evalset import EvalSet
from core.evaluation.scorers import expected_answers, model_texts, parse_scorer
from core.workspace import Workspace


def make(n_items: int, n_models: int, seed: int = 3) -> tuple[EvalSet, EvalSet]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("ABCD"))
    gold = letters[rng.integers(0, 4, n_items)]
    picked = np.where(rng.random((n_items, n_models)) < 0.7, gold[:, None],
                      letters[rng.integers(0, 4, (n_items, n_models))])
    shape = rng.integers(0, 4, (n_items, n_models))
    text = np.where(shape == 0, picked, np.where(shape == 1, np.char.add(picked, ")"),
                    np.where(shape == 2, np.char.add(np.char.add("The answer is (", picked), ")."),
                             "I cannot answer that."))).astype(object)
    items = pd.DataFrame({"item_id": np.arange(n_items).astype(str), "reference": gold})
    mcq = EvalSet.from_arrays("mcq", [f"m{j}" for j in range(n_models)],
                              score=np.full((n_items, n_models), np.nan), output=text, items=items)
    value = rng.integers(0, 500, n_items)
    noisy = value[:, None] + rng.integers(-2, 3, (n_items, n_models))
    num_text = np.char.add("The total is ", noisy.astype(str)).astype(object)
    num_items = pd.DataFrame({"item_id": np.arange(n_items).astype(str), "reference": value.astype(str)})
    numeric = EvalSet.from_arrays("numeric", [f"m{j}" for j in range(n_models)],
                                  score=np.full((n_items, n_models), np.nan), output=num_text,
                                  items=num_items)
    return mcq, numeric


def row_by_row(scorer, evalset: EvalSet) -> float:
    texts = model_texts(evalset, scorer.reads)
    expected, _ = expected_answers(evalset)
    start = time.perf_counter()
    for i in range(evalset.n_items):
        for j in range(evalset.n_models):
            scorer.score_pairs(np.array([texts[i, j]], dtype=object), np.array([expected[i]], dtype=object))
    return time.perf_counter() - start


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--models", type=int, default=10)
    args = parser.parse_args()
    mcq, numeric = make(args.items, args.models)
    n = args.items * args.models
    rows = []
    for spec, es in (("choice", mcq), ("exact", mcq), ("numeric:1", numeric), ("chrf", mcq)):
        scorer = parse_scorer(spec)
        vectorised = timed(lambda: scorer.score(es))
        reference = row_by_row(scorer, es)
        rows.append((f"`{spec}` score, {n:,} answers", vectorised, reference))
    keys_time = timed(lambda: score_store.answer_keys(mcq))
    keys = score_store.answer_keys(mcq)
    ws = Workspace(":memory:")
    sid = score_store.register_scorer(ws, "choice", "choice", "choice", "1", {})
    scores = parse_scorer("choice").score(mcq)
    frame = pd.DataFrame({"answer_key": keys.reshape(-1), "score": scores.score.reshape(-1),
                          "parsed": scores.parsed.reshape(-1), "detail": scores.detail.reshape(-1)})
    save = timed(lambda: score_store.save_scores(ws, sid, frame))
    lookup = timed(lambda: score_store.lookup_scores(ws, sid, keys))
    load = os.getloadavg()
    print(f"Load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; {args.items:,} items × "
          f"{args.models} models.\n")
    print("| measurement | vectorised | row by row (reference) | ratio |\n|---|---|---|---|")
    for label, fast, slow in rows:
        print(f"| {label} | {fast * 1000:,.0f} ms | {slow * 1000:,.0f} ms | {slow / fast:,.1f}x |")
    print(f"| content keys of {n:,} answers (sha256) | {keys_time * 1000:,.0f} ms | | |")
    print(f"| store {n:,} scores (one bulk insert) | {save * 1000:,.0f} ms | | |")
    print(f"| look up {n:,} stored scores (one join) | {lookup * 1000:,.0f} ms | | |")


if __name__ == "__main__":
    main()

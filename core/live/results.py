"""A run's answers as an eval set: the long layout, scores against labels, notes.

>>> results_frame(live_run).columns[:4].tolist()                     # doctest: +SKIP
['idx', 'model', 'score', 'cost_usd']

Failed calls stay missing (NaN), never wrong; an answered call whose answer could not be parsed
scores 0 where a label exists. An answer's cost is its model's price for it, even when the
exact cache served it for free (the ledger records that $0 with the cache flag), so Compare
never takes a cached model for a cheaper one. A fallback's answers stay in the requested model's column, with a
note saying how many came from which model.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.evaluation.answers import normalize_answers
from core.evaluation.evalset import EvalSet, from_long_frame
from core.live import store as run_store


def results_frame(run) -> pd.DataFrame:
    """The run's answers in the long eval-set layout (one row per item × model)."""
    calls = run_store.run_calls(run.ws, run.run_id)
    items = run.evalset.items.reset_index(drop=True)
    index = pd.Series(np.arange(len(items)), index=items["item_id"].astype(str))
    calls = calls[calls["item_id"].isin(index.index) & calls["model"].isin(run.models)]
    calls = calls.assign(idx=index.loc[calls["item_id"].astype(str)].to_numpy())
    answered = calls["status"].isin(run_store.SUCCESS).to_numpy()
    labels = normalize_answers(items["label"]) if "label" in items else np.full(len(items), None)
    label = labels[calls["idx"].to_numpy()] if len(calls) else np.array([], dtype=object)
    pred = normalize_answers(calls["prediction"])
    has_label = pd.notna(label) & answered
    score = np.full(len(calls), np.nan)
    # An answered call whose answer could not be parsed is wrong, not missing.
    score[has_label] = (pred[has_label] == label[has_label]).astype(float)
    return pd.DataFrame({
        "idx": calls["idx"].to_numpy(), "model": calls["model"].to_numpy(),
        "score": score,
        "cost_usd": np.where(answered, item_costs(run, calls), np.nan),
        "latency_ms": np.where(answered, calls["latency_ms"].to_numpy(dtype=float, na_value=np.nan), np.nan),
        "confidence": calls["confidence"].to_numpy(dtype=float, na_value=np.nan),
        "input_tokens": calls["input_tokens"].to_numpy(dtype=float, na_value=np.nan),
        "output_tokens": calls["output_tokens"].to_numpy(dtype=float, na_value=np.nan),
        "cached_input_tokens": calls["cached_read_tokens"].to_numpy(dtype=float, na_value=np.nan),
        "prediction": calls["prediction"].to_numpy(dtype=object),
        "output": calls["output"].to_numpy(dtype=object),
        "status": calls["status"].to_numpy(dtype=object),
        "answered_by": calls["answered_by"].to_numpy(dtype=object),
    })


def item_costs(run, calls: pd.DataFrame) -> np.ndarray:
    """What each answer costs its model at the catalog price: the call's cost, and for a cache
    hit (which spent nothing) the price of the tokens the cached answer had.

    Runs recorded before ``item_cost_usd`` existed price their cache hits from the tokens now.
    """
    from core.live.providers.base import ChatResponse

    cost = calls["item_cost_usd"].to_numpy(dtype=float, na_value=np.nan)
    spent = calls["cost_usd"].to_numpy(dtype=float, na_value=np.nan)
    cached = (calls["status"] == "cached").to_numpy()
    cost = np.where(np.isnan(cost) & ~cached, spent, cost)
    for i in np.flatnonzero(np.isnan(cost) & cached):
        answering = calls["answered_by"].iloc[i]
        if answering not in run.model_ids:
            continue
        provider, model = run.model_ids[answering]
        tokens_in, tokens_out = (calls[c].iloc[i] for c in ("input_tokens", "output_tokens"))
        price = run.call_cost(provider, model, ChatResponse(
            text="", input_tokens=0 if pd.isna(tokens_in) else int(tokens_in),
            output_tokens=0 if pd.isna(tokens_out) else int(tokens_out)))
        cost[i] = np.nan if price is None else price
    return cost


def to_evalset(run) -> EvalSet:
    frame = results_frame(run)
    items = run.evalset.items.reset_index(drop=True)
    notes = []
    fell_back = frame[frame["answered_by"].notna() & (frame["answered_by"] != frame["model"])
                      & frame["status"].isin(run_store.SUCCESS)]
    for model, group in fell_back.groupby("model"):
        notes.append(f"{len(group)} answer(s) in column {model} came from its fallback "
                     f"({', '.join(sorted(set(group['answered_by'])))})")
    failed = frame[~frame["status"].isin(run_store.SUCCESS)]
    if len(failed):
        notes.append(f"{len(failed)} call(s) failed and are missing (not counted as wrong)")
    cost_source = {m: ("catalog" if frame.loc[frame["model"] == m, "cost_usd"].notna().any()
                       else "unknown") for m in run.models}
    evalset = from_long_frame(frame, items, f"Live run: {run.name}", format="long",
                              cost_source=cost_source, notes=tuple(notes))
    missing = [m for m in run.models if m not in evalset.models]
    if missing:  # a model with no answer at all still gets its (empty) column
        frame = pd.concat([frame, pd.DataFrame({"idx": [0] * len(missing), "model": missing})])
        evalset = from_long_frame(frame, items, evalset.name, format="long",
                                  cost_source=cost_source, notes=tuple(notes))
    return evalset


def materialize(run) -> int:
    """Store the answers as an EvalSet (replacing this run's earlier one); returns its id."""
    from core.evaluation.store import delete_evalset, save_evalset

    previous = run_store.get_run(run.ws, run.run_id)
    evalset_id = save_evalset(run.ws, to_evalset(run))
    if previous and previous.get("results_evalset_id") is not None \
            and not pd.isna(previous["results_evalset_id"]):
        delete_evalset(run.ws, int(previous["results_evalset_id"]))
    run_store.finish_run(run.ws, run.run_id, previous["status"] if previous else "running",
                         results_evalset_id=evalset_id)
    return evalset_id

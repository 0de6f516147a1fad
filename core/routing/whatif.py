"""Savings beyond routing: the same routed calls with prompt caching, on batch APIs, or both.

Given a policy's :class:`Outcome` on an eval set (which models each item called), a traffic
volume and the tasks that tolerate delay, :func:`savings_plan` prices every call four ways:

* **route**: as the eval set recorded it (its own cached tokens included);
* **route + cache**: the task's shared prompt prefix cached at the hit rate the traffic gives
  (:mod:`core.pricing.caching`: Poisson arrivals, the provider's TTL and minimum length);
* **route + batch**: the delay-tolerant tasks' calls at the batch price
  (:mod:`core.pricing.batch`), answered within 24 hours instead of seconds;
* **route + cache + batch**: both.

A variant changes only the price of the same calls: quality is the route's. Every figure is a
what-if (modelled, in-sample on the eval set), never billed spend. A call whose tokens or price
are unknown keeps its recorded cost and is counted in ``not_modelled``.

The prefix of a (task, model) is, in order: **recorded**, the median of the cached input tokens
the eval set's calls report (exact, from the providers' usage); else **estimate**, the characters
every input of the task starts with plus the prompt tokens beyond the input's own text (the
template around it), counted offline at 4 characters per token.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.evaluation.evalset import EvalSet
from core.pricing.batch import TURNAROUND_H, batch_offer
from core.pricing.caching import cache_rule, cache_split, estimate_tokens, hit_rate
from core.pricing.catalog import Catalog
from core.routing.policies.base import Outcome
from core.routing.projections import project_spend

SECONDS_PER_DAY = 86_400.0
VARIANTS = ("route", "cache", "batch", "all")
VARIANT_LABELS = {"route": "route", "cache": "route + cache", "batch": "route + batch",
                  "all": "route + cache + batch"}


def variant_for(cache: bool, batch: bool) -> str:
    """The variant a pair of toggles chooses.

    >>> variant_for(True, False), variant_for(True, True)
    ('cache', 'all')
    """
    return {(False, False): "route", (True, False): "cache", (False, True): "batch",
            (True, True): "all"}[(bool(cache), bool(batch))]


def prefix_lengths(evalset: EvalSet) -> pd.DataFrame:
    """Per (task, model): the shared prompt prefix in tokens and its source (recorded|estimate)."""
    tasks = evalset.tasks
    inputs = (evalset.items["input"].fillna("").astype(str) if "input" in evalset.items
              else pd.Series([""] * evalset.n_items))
    own_tokens = estimate_tokens(inputs.str.len().to_numpy())
    rows = []
    for task in pd.unique(tasks):
        sel = tasks == task
        common = estimate_tokens(len(os.path.commonprefix(inputs[sel].tolist())))
        for j, model in enumerate(evalset.models):
            cached = evalset.cached_input_tokens[sel, j]
            recorded = cached[np.nan_to_num(cached) > 0]
            if len(recorded):
                rows.append((task, model, float(np.median(recorded)), "recorded"))
                continue
            template = evalset.input_tokens[sel, j] - own_tokens[sel]
            template = template[~np.isnan(template)]
            extra = max(float(np.median(template)), 0.0) if len(template) else 0.0
            rows.append((task, model, float(common) + extra, "estimate"))
    return pd.DataFrame(rows, columns=["task", "model", "prefix_tokens", "prefix_source"])


@dataclass(frozen=True)
class SavingsPlan:
    """The four variants' cost per item (``costs``), per task and per (task, model) detail."""

    costs: dict[str, float]       # variant -> mean cost per item (USD)
    spend_per_day: dict[str, float]
    quality: float
    tasks: pd.DataFrame
    detail: pd.DataFrame
    not_modelled: int             # calls kept at their recorded cost (no tokens or no price)

    def saving(self, variant: str) -> float:
        """USD per item saved by ``variant`` against the route alone."""
        return self.costs["route"] - self.costs[variant]


def savings_plan(evalset: EvalSet, outcome: Outcome, catalog: Catalog, requests_per_day: float,
                 batch_tasks=frozenset()) -> SavingsPlan:
    """Price ``outcome``'s calls as routed, cached, batched and both (see the module's doc)."""
    volume = project_spend(1.0, requests_per_day)["day"]  # validates: a number >= 0
    tasks = evalset.tasks
    names, task_idx = np.unique(tasks.astype(str), return_inverse=True)
    n_tasks = len(names)
    counts = np.bincount(task_idx, minlength=n_tasks).astype(float)
    tried = np.asarray(outcome.tried, dtype=bool)
    call_share = np.stack([np.bincount(task_idx, weights=tried[:, j], minlength=n_tasks)
                           for j in range(evalset.n_models)], axis=1) / counts[:, None]
    rate = volume * (counts / max(evalset.n_items, 1))[:, None] * call_share / SECONDS_PER_DAY
    prefixes = prefix_lengths(evalset).set_index(["task", "model"])
    batch_rows = np.isin(tasks.astype(str), [str(t) for t in batch_tasks])
    deltas = {v: np.zeros((evalset.n_items, evalset.n_models)) for v in VARIANTS[1:]}
    detail, not_modelled = [], 0
    per_day = volume / max(evalset.n_items, 1)  # an item's share of a day's requests
    for j, model in enumerate(evalset.models):
        if not tried[:, j].any():
            continue
        price = catalog.price_for(model)
        rule = cache_rule(model, price)
        offer = batch_offer(model, price)
        inp, out = evalset.input_tokens[:, j], evalset.output_tokens[:, j]
        recorded = np.nan_to_num(evalset.cached_input_tokens[:, j])
        prefix = np.array([prefixes.loc[(t, model), "prefix_tokens"] for t in names])
        hits = hit_rate(rate[:, j], rule.ttl_s) if rule else np.zeros(n_tasks)
        if price is not None:
            before = price.cost(inp, out, recorded)
            read, write = cache_split(prefix[task_idx], hits[task_idx], rule, inp)
            cached = price.cost(inp, out, read, write)
            on_batch = batch_rows & offer.available
            bprice = offer.price if offer.available else price
            batched = np.where(on_batch, bprice.cost(inp, out, recorded), before)
            both = np.where(on_batch, bprice.cost(inp, out, read, write), cached)
            for v, cost in (("cache", cached), ("batch", batched), ("all", both)):
                deltas[v][:, j] = np.nan_to_num(cost - before)
            unknown = np.isnan(before) & tried[:, j]
        else:
            unknown = tried[:, j]
        not_modelled += int(unknown.sum())
        for t, task in enumerate(names):
            sel = (task_idx == t) & tried[:, j]
            if not sel.any():
                continue
            detail.append({
                "task": task, "model": model, "calls_per_day": rate[t, j] * SECONDS_PER_DAY,
                "prefix_tokens": prefix[t],
                "prefix_source": prefixes.loc[(task, model), "prefix_source"],
                "min_cacheable": rule.min_tokens if rule else np.nan,
                "ttl_s": rule.ttl_s if rule else np.nan,
                "hit_rate": float(hits[t]) if rule and prefix[t] >= rule.min_tokens else 0.0,
                "cache_saving_per_day": 0.0 - deltas["cache"][sel, j].sum() * per_day,
                "batch_saving_per_day": 0.0 - deltas["batch"][sel, j].sum() * per_day,
                "batch": offer.available,
                "cache_rule": rule.source if rule else "no cache rule known for this provider",
                "batch_source": offer.source,
            })
    costs = {"route": outcome.cost}
    for v in VARIANTS[1:]:
        costs[v] = outcome.cost + (deltas[v] * tried).sum(axis=1)
    per_item = {v: _mean(c) for v, c in costs.items()}
    table = pd.DataFrame({"task": names, "items": counts.astype(int),
                          "requests_per_day": volume * counts / max(evalset.n_items, 1),
                          "delay_tolerant": np.isin(names, [str(t) for t in batch_tasks])})
    for v in VARIANTS:
        table[f"cost_{v}"] = [_mean(costs[v][task_idx == t]) for t in range(n_tasks)]
    table["p95_ms"] = [_p95(outcome.latency_ms[task_idx == t]) for t in range(n_tasks)]
    table["latency_with_batch"] = np.where(table["delay_tolerant"], f"up to {TURNAROUND_H:.0f} h",
                                           "unchanged")
    return SavingsPlan(costs=per_item, spend_per_day={v: c * volume for v, c in per_item.items()},
                       quality=outcome.quality, tasks=table, detail=pd.DataFrame(detail),
                       not_modelled=not_modelled)


def _mean(values: np.ndarray) -> float:
    known = values[~np.isnan(values)]
    return float(known.mean()) if len(known) else float("nan")


def _p95(values: np.ndarray) -> float:
    known = values[~np.isnan(values)]
    return float(np.percentile(known, 95)) if len(known) else float("nan")

"""Cost Efficiency Score: quality per dollar, discounted when answers are slower than a target.

    CES = quality / cost per item  x  min(1, latency target / p95 latency)

* ``quality / cost per item`` is quality bought per dollar: with 0/1 scores, correct answers per
  $1 (the inverse of "$ / correct"); with graded scores, score points per $1.
* The latency factor is 1 for a model whose p95 latency is within the target, and the target's
  share of the p95 when it is slower: twice the target halves the score.
* Undefined (NaN, unranked) when quality or cost is unknown, or the cost is zero (a per-dollar
  figure has no meaning at no cost). A model with no latency recorded gets no penalty, and says so.

>>> frame = pd.DataFrame({"name": ["a", "b", "c"], "quality": [0.9, 0.8, 0.7],
...                       "cost_per_item": [0.01, 0.001, 0.001], "latency_p95": [500.0, 4000.0, 1000.0]})
>>> efficiency_scores(frame, latency_target_ms=2000.0)[["name", "quality_per_dollar", "latency_factor", "ces", "rank"]]
  name  quality_per_dollar  latency_factor    ces  rank
0    c               700.0             1.0  700.0     1
1    b               800.0             0.5  400.0     2
2    a                90.0             1.0   90.0     3
"""
from __future__ import annotations

import numpy as np
import pandas as pd

DEFINITION = ("Cost Efficiency Score = quality ÷ cost per item × min(1, latency target ÷ p95 "
              "latency): quality bought per $1 (correct answers per $1 with 0/1 scores), cut in "
              "proportion when the p95 latency is over the target (twice the target halves it).")


def efficiency_scores(frame: pd.DataFrame, latency_target_ms: float = 2000.0) -> pd.DataFrame:
    """``frame`` (quality, cost_per_item, latency_p95 per row) with the score and a rank, best first.

    Adds ``quality_per_dollar``, ``latency_factor``, ``ces``, ``rank`` (1 = best; missing where
    the score is undefined) and ``note`` (why a row is unranked or unpenalised).
    """
    target = float(latency_target_ms)
    if not np.isfinite(target) or target <= 0:
        from core.errors import InputError

        raise InputError(f"Latency target: expected a number of milliseconds above 0, got {latency_target_ms!r}")
    out = frame.copy()
    quality = out["quality"].to_numpy(dtype=float)
    cost = out["cost_per_item"].to_numpy(dtype=float)
    p95 = out["latency_p95"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_dollar = np.where(cost > 0, quality / cost, np.nan)
        factor = np.where(np.isnan(p95), 1.0, np.minimum(1.0, target / p95))
    out["quality_per_dollar"] = per_dollar
    out["latency_factor"] = factor
    out["ces"] = per_dollar * factor
    notes = np.select([np.isnan(quality), np.isnan(cost), cost == 0, np.isnan(p95)],
                      ["quality unknown: unranked", "cost unknown: unranked",
                       "zero cost: per-dollar undefined, unranked", "no latency recorded: no penalty"], "")
    out["note"] = notes
    out = out.sort_values("ces", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    ranked = out["ces"].notna()
    out["rank"] = pd.array(np.where(ranked, np.arange(1, len(out) + 1), 0), dtype="Int64")
    out.loc[~ranked, "rank"] = pd.NA
    return out

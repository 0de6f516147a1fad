"""Model metrics on an :class:`~core.evaluation.evalset.EvalSet`, vectorized over its ``[items, models]`` arrays.

>>> leaderboard(es)[["model", "quality", "cost_per_item"]]
   model  quality  cost_per_item
0    big     0.75          0.010
1    mid     0.50          0.004
2  small     0.50          0.001
>>> summary(es)["models"][0]
{'model': 'big', 'quality': 0.75, 'cost_per_item': 0.01, 'scored': 4}

Definitions (used by every page, the CLI and the acceptance test):

* **quality**: mean score over the items a model was *scored* on; missing scores are counted
  (``missing``), never read as zeros. 95% interval: Wilson when every score is 0 or 1, else a
  Student-t interval on the mean, clipped to 0..1.
* **cost per item**: mean cost over every item whose cost is known, scored or not: a call is
  paid even when its answer could not be graded. This is the definition that reproduces the
  RouterBench table in ``../shared/acceptance/README.md`` (whose gpt-4 figure 0.00507 is the
  mean 0.0050647 rounded to 6 and then to 5 decimals).
* **cost per correct answer**: cost per item / quality (total spend per unit of correctness).
* **accuracy / macro-F1**: the model's ``prediction`` against the item ``label`` (under the one
  normalisation rule of :mod:`core.evaluation.answers`), over items that have both; macro-F1
  is scikit-learn's definition, counted with numpy.
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd

from core.evaluation.answers import normalize_answers
from core.evaluation.evalset import EvalSet, column_means
from core.evaluation.intervals import mean_interval, wilson

# No scipy, scikit-learn or statsmodels here: they take seconds to import, and the first page
# (and `python -m core summary`) needs none of them.

ALPHA = 0.05
LEADERBOARD_COLUMNS = [
    "model", "quality", "quality_low", "quality_high", "interval", "scored", "missing",
    "accuracy", "macro_f1", "cost_per_item", "cost_known", "cost_per_correct", "cost_source",
    "latency_p50", "latency_p95", "latency_p99", "mean_confidence",
]


@contextlib.contextmanager
def _quiet():
    """Empty columns (no scores, no latencies) are expected; their NaN results are the answer."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def quality_intervals(score: np.ndarray, alpha: float = ALPHA) -> pd.DataFrame:
    """Mean score and a (1 - alpha) interval per column of ``score`` (NaN = not scored).

    >>> quality_intervals(np.array([[1.0], [0.0], [1.0], [1.0]])).round(4).to_dict("records")
    [{'quality': 0.75, 'low': 0.3006, 'high': 0.9544, 'interval': 'wilson', 'scored': 4}]
    """
    score = np.asarray(score, dtype=float)
    means, n = column_means(score)
    known = ~np.isnan(score)
    binary = (np.where(known, (score == 0) | (score == 1), True)).all(axis=0)
    successes = np.where(known, score, 0.0).sum(axis=0)
    low = np.full(len(means), np.nan)
    high = np.full(len(means), np.nan)
    use_wilson = binary & (n > 0)
    use_t = ~binary & (n > 1)
    if use_wilson.any():
        wl, wh = wilson(np.round(successes[use_wilson]), n[use_wilson], alpha)
        low[use_wilson], high[use_wilson] = wl, wh
    if use_t.any():
        dev = np.where(known, score - means, 0.0)[:, use_t]
        sd = np.sqrt((dev ** 2).sum(axis=0) / (n[use_t] - 1))
        tl, th = mean_interval(means[use_t], sd, n[use_t], alpha)
        low[use_t], high[use_t] = np.clip(tl, 0.0, 1.0), np.clip(th, 0.0, 1.0)
    kind = np.where(binary, "wilson", "t")
    kind = np.where(n > 0, kind, "")
    return pd.DataFrame({"quality": means, "low": low, "high": high, "interval": kind,
                         "scored": n.astype(int)})


def _label_metrics(evalset: EvalSet) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro-F1 of each model's prediction against the label (NaN when absent).

    Macro-F1 as scikit-learn's ``f1_score(average="macro", zero_division=0)``: the unweighted
    mean of per-class F1 over every class seen as a label or a prediction, computed here on
    integer codes with bincounts (no scikit-learn import on the first page).
    """
    m = evalset.n_models
    acc, f1 = np.full(m, np.nan), np.full(m, np.nan)
    if not evalset.has_labels or m == 0:
        return acc, f1
    labels = normalize_answers(evalset.items["label"].to_numpy(dtype=object))
    preds = normalize_answers(evalset.prediction)
    # One integer code per distinct answer: the counting below works on ints, not strings.
    codes, uniques = pd.factorize(np.concatenate([labels, preds.reshape(-1)]))
    label_codes = codes[:len(labels)]
    pred_codes = codes[len(labels):].reshape(preds.shape)
    has_label = label_codes >= 0
    k = max(len(uniques), 1)
    for j in range(m):  # one pass per model; items are vectorized inside
        both = has_label & (pred_codes[:, j] >= 0)
        if not both.any():
            continue
        y_true, y_pred = label_codes[both], pred_codes[both, j]
        hit = y_true == y_pred
        acc[j] = float(hit.mean())
        tp = np.bincount(y_true[hit], minlength=k).astype(float)
        true_n = np.bincount(y_true, minlength=k)
        pred_n = np.bincount(y_pred, minlength=k)
        seen = (true_n + pred_n) > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class = np.where(true_n + pred_n > 0, 2 * tp / (true_n + pred_n), 0.0)
        f1[j] = float(per_class[seen].mean())
    return acc, f1


def leaderboard(evalset: EvalSet, models: list[str] | tuple[str, ...] | None = None) -> pd.DataFrame:
    """One row per model, best quality first (columns: :data:`LEADERBOARD_COLUMNS`).

    Cost columns are NaN where the eval set has neither costs nor token counts for a model;
    :func:`plain_notes` says so in words. Latency and confidence columns are NaN when absent.
    """
    es = evalset.select(list(models)) if models is not None else evalset
    if es.n_models == 0:
        return pd.DataFrame(columns=LEADERBOARD_COLUMNS)
    q = quality_intervals(es.score)
    cost = es.model_stats["cost_per_item"].to_numpy()
    cost_known = es.model_stats["priced"].to_numpy()
    acc, f1 = _label_metrics(es)
    with _quiet():
        has_latency = (~np.isnan(es.latency_ms)).any(axis=0)
        pct = np.full((3, es.n_models), np.nan)
        if has_latency.any():
            pct[:, has_latency] = np.nanpercentile(es.latency_ms[:, has_latency], [50, 95, 99], axis=0)
        confidence, _ = column_means(es.confidence)
        per_correct = np.where(q["quality"].to_numpy() > 0, cost / q["quality"].to_numpy(), np.nan)
    board = pd.DataFrame({
        "model": list(es.models),
        "quality": q["quality"], "quality_low": q["low"], "quality_high": q["high"],
        "interval": q["interval"], "scored": q["scored"],
        "missing": (es.n_items - q["scored"]).astype(int),
        "accuracy": acc, "macro_f1": f1,
        "cost_per_item": cost, "cost_known": cost_known.astype(int),
        "cost_per_correct": per_correct,
        "cost_source": [es.cost_source.get(m, "unknown") if k else "unknown"
                        for m, k in zip(es.models, cost_known)],
        "latency_p50": pct[0], "latency_p95": pct[1], "latency_p99": pct[2],
        "mean_confidence": confidence,
    })
    order = np.lexsort((board["model"].to_numpy(), -np.nan_to_num(board["quality"].to_numpy(), nan=-1)))
    return board.iloc[order].reset_index(drop=True)[LEADERBOARD_COLUMNS]


def plain_notes(evalset: EvalSet, models: list[str] | tuple[str, ...] | None = None) -> list[str]:
    """Sentences for what the numbers cannot say: unknown costs, absent latencies, missing scores."""
    es = evalset.select(list(models)) if models is not None else evalset
    notes = []
    no_cost = [m for j, m in enumerate(es.models) if np.isnan(es.cost[:, j]).all()]
    if no_cost:
        notes.append("Cost is unknown for " + ", ".join(no_cost) + ": the eval set has neither a "
                     "cost_usd column nor token counts with a catalog price for "
                     + ("it." if len(no_cost) == 1 else "them."))
    partial = [m for j, m in enumerate(es.models)
               if np.isnan(es.cost[:, j]).any() and not np.isnan(es.cost[:, j]).all()]
    if partial:
        notes.append("Cost per item for " + ", ".join(partial) + " averages only the items whose "
                     "cost is known.")
    if es.n_models and np.isnan(es.latency_ms).all():
        notes.append("Latency is unknown: the eval set has no latency_ms values.")
    missing = {m: c for m, c in es.missing_scores().items() if c}
    if missing:
        notes.append("Missing scores are left out of quality, not counted as wrong: "
                     + ", ".join(f"{m} {c:,}" for m, c in missing.items()) + ".")
    return notes


def per_task(evalset: EvalSet, models: list[str] | tuple[str, ...] | None = None) -> pd.DataFrame:
    """Quality, scored count and cost per item by task × model (columns task, model, quality,
    n, items, cost_per_item), tasks in order of appearance, models as given."""
    es = evalset.select(list(models)) if models is not None else evalset
    n, m = es.score.shape
    if m == 0 or n == 0:
        return pd.DataFrame(columns=["task", "model", "quality", "n", "items", "cost_per_item"])
    task_codes, task_names = pd.factorize(pd.Series(es.tasks, dtype=object), sort=False)
    score, cost = es.score, es.cost
    frame = pd.DataFrame({
        "t": np.repeat(task_codes, m), "j": np.tile(np.arange(m), n),
        "score": score.reshape(-1), "cost": cost.reshape(-1),
    })
    grouped = frame.groupby(["t", "j"], sort=True)
    out = grouped.agg(quality=("score", "mean"), n=("score", "count"), items=("score", "size"),
                      cost_per_item=("cost", "mean")).reset_index()
    out.insert(0, "task", np.asarray(task_names, dtype=object)[out["t"].to_numpy()])
    out.insert(1, "model", np.asarray(es.models, dtype=object)[out["j"].to_numpy()])
    return out.drop(columns=["t", "j"]).astype({"n": int, "items": int})


def classification_tasks(evalset: EvalSet, model: str | None = None) -> list[str]:
    """Tasks whose items carry labels and (for ``model``, or any model) predictions."""
    if not evalset.has_labels or evalset.n_models == 0:
        return []
    labels = evalset.items["label"].notna().to_numpy()
    preds = pd.notna(evalset.prediction)
    preds = preds[:, evalset.model_index(model)] if model else preds.any(axis=1)
    tasks = pd.Series(evalset.tasks, dtype=object)
    return list(pd.unique(tasks[labels & preds]))


def confusion(evalset: EvalSet, model: str, task: str | None = None) -> tuple[list[str], np.ndarray]:
    """Labels and the confusion matrix (rows = true label, columns = prediction) of one model.

    Items without a label or prediction are left out; ``task`` restricts to one task, because
    tasks usually have their own label sets.
    """
    j = evalset.model_index(model)
    if "label" not in evalset.items:
        return [], np.zeros((0, 0), dtype=int)
    labels = normalize_answers(evalset.items["label"].to_numpy(dtype=object))
    preds = normalize_answers(evalset.prediction[:, j])
    keep = pd.notna(labels) & pd.notna(preds)
    if task is not None:
        keep &= evalset.tasks == task
    if not keep.any():
        return [], np.zeros((0, 0), dtype=int)
    y_true, y_pred = labels[keep].astype(str), preds[keep].astype(str)
    names = sorted({str(v) for v in y_true} | {str(v) for v in y_pred})
    index = {name: i for i, name in enumerate(names)}
    rows = np.array([index[v] for v in y_true], dtype=np.int64)
    cols = np.array([index[v] for v in y_pred], dtype=np.int64)
    k = len(names)
    return names, np.bincount(rows * k + cols, minlength=k * k).reshape(k, k)


def disagreement_mask(evalset: EvalSet, models: list[str] | tuple[str, ...] | None = None) -> np.ndarray:
    """Items where the chosen models' normalized predictions or their scores differ."""
    es = evalset.select(list(models)) if models is not None else evalset
    if es.n_models < 2:
        return np.zeros(es.n_items, dtype=bool)
    score = es.score
    with _quiet():
        spread = np.nanmax(score, axis=1) - np.nanmin(score, axis=1)
    differ = np.nan_to_num(spread, nan=0.0) > 0
    preds = normalize_answers(es.prediction)
    if pd.notna(preds).any():
        codes, _ = pd.factorize(pd.Series(preds.reshape(-1), dtype=object))
        codes = codes.reshape(preds.shape).astype(float)
        codes[codes < 0] = np.nan
        with _quiet():
            pspread = np.nanmax(codes, axis=1) - np.nanmin(codes, axis=1)
        differ |= np.nan_to_num(pspread, nan=0.0) > 0
    return differ


def disagreements(evalset: EvalSet, models: list[str] | tuple[str, ...] | None = None,
                  limit: int | None = 200) -> pd.DataFrame:
    """Items where models disagree, their answers side by side.

    Columns: item_id, task, input, label (those present), then per model ``"<model> answer"``
    (prediction, else raw output) and ``"<model> score"``. Largest score spread first.
    ``frame.attrs["total"]`` holds how many items disagree before ``limit``.
    """
    es = evalset.select(list(models)) if models is not None else evalset
    mask = disagreement_mask(es)
    rows = np.flatnonzero(mask)
    with _quiet():
        spread = (np.nanmax(es.score[rows], axis=1) - np.nanmin(es.score[rows], axis=1)
                  if len(rows) and es.n_models else np.zeros(len(rows)))
    order = rows[np.argsort(-np.nan_to_num(spread, nan=0.0), kind="stable")]
    total = len(order)
    if limit is not None:
        order = order[:limit]
    item_cols = [c for c in ("item_id", "task", "input", "label") if c in es.items]
    out = es.items.iloc[order][item_cols].reset_index(drop=True)
    for j, model in enumerate(es.models):
        answer = np.where(pd.notna(es.prediction[order, j]), es.prediction[order, j],
                          es.output[order, j])
        out[f"{model} answer"] = answer
        out[f"{model} score"] = es.score[order, j]
    out.attrs["total"] = total
    return out


def _json_number(value) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def summary(evalset: EvalSet) -> dict:
    """The CLI's ``summary --json`` object (DESIGN.md), models in the eval set's order.

    >>> summary(es)["items"], [m["model"] for m in summary(es)["models"]]
    (4, ['big', 'mid', 'small'])
    """
    stats = evalset.model_stats
    return {
        "items": int(evalset.n_items),
        "models": [
            {"model": model, "quality": _json_number(row.quality),
             "cost_per_item": _json_number(row.cost_per_item), "scored": int(row.scored)}
            for model, row in stats.iterrows()
        ],
    }

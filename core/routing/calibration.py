"""Calibration audit of a confidence signal: does "0.9 sure" mean right 9 times in 10?

Before a signal gates a cascade, its reliability per model and task: the items binned by the
signal's value (equal-width bins on [0, 1]), each bin's mean signal against its accuracy, and the
expected calibration error ``ECE = sum_b (n_b / n) |accuracy_b - mean signal_b|`` (Naeini et al.,
2015). A signal can rank well (high AUC) and still be badly calibrated: the cascade only needs the
ranking, but a threshold read as a probability needs both.

>>> table, ece = reliability(np.array([0.9, 0.9, 0.1, 0.1]), np.array([1, 0, 0, 0]), bins=2)
>>> table[["mean_signal", "accuracy", "items"]].values.tolist(), ece
([[0.1, 0.0, 2.0], [0.9, 0.5, 2.0]], 0.25)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.evaluation.intervals import roc_auc


def reliability(signal, correct, bins: int = 10) -> tuple[pd.DataFrame, float]:
    """Reliability curve (non-empty bins: ``lo``, ``hi``, ``mean_signal``, ``accuracy``,
    ``items``) and ECE of ``signal`` in [0, 1] against ``correct`` (score >= 0.5); rows with a
    NaN in either are left out."""
    s, y = np.asarray(signal, dtype=float), np.asarray(correct, dtype=float)
    ok = ~np.isnan(s) & ~np.isnan(y)
    s, y = np.clip(s[ok], 0.0, 1.0), (y[ok] >= 0.5).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    b = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, bins - 1)
    count = np.bincount(b, minlength=bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_s = np.bincount(b, weights=s, minlength=bins) / count
        acc = np.bincount(b, weights=y, minlength=bins) / count
    keep = count > 0
    table = pd.DataFrame({"lo": edges[:-1][keep], "hi": edges[1:][keep], "mean_signal": mean_s[keep],
                          "accuracy": acc[keep], "items": count[keep]})
    ece = float(np.sum(count[keep] / max(count.sum(), 1) * np.abs(acc[keep] - mean_s[keep]))) if keep.any() \
        else float("nan")
    return table, ece


def calibration_audit(evalset: EvalSet, signal, models, bins: int = 10) -> pd.DataFrame:
    """Per model (each of ``models``) and task (plus ``all``): items, accuracy, mean signal, ECE
    and AUC of ``signal`` (a fitted :class:`~core.routing.signals.base.Signal`)."""
    rows = []
    tasks = evalset.tasks.astype(str)
    for model in models:
        try:
            values = signal.scores(evalset, model)
        except InputError as err:
            rows.append({"model": model, "task": "all", "error": str(err)})
            continue
        y = evalset.score[:, evalset.model_index(model)]
        for task in ["all", *sorted(set(tasks))] if len(set(tasks)) > 1 else ["all"]:
            pick = np.ones(len(y), bool) if task == "all" else tasks == task
            _, ece = reliability(values[pick], y[pick], bins)
            ok = ~np.isnan(y[pick])
            rows.append({"model": model, "task": task, "items": int(ok.sum()),
                         "accuracy": float(np.mean(y[pick][ok] >= 0.5)) if ok.any() else float("nan"),
                         "mean_signal": float(np.mean(values[pick][ok])) if ok.any() else float("nan"),
                         "ece": ece, "auc": roc_auc(y[pick], values[pick])[0]})
    return pd.DataFrame(rows)

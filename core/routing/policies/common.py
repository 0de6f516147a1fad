"""Small helpers shared by the policy modules (model lookup, argument checks)."""
from __future__ import annotations

import numpy as np

from core.errors import InputError
from core.evaluation.evalset import EvalSet


def model_columns(evalset: EvalSet, models) -> np.ndarray:
    """Eval-set column of each model, in order; unknown models raise InputError."""
    return np.array([evalset.model_index(m) for m in models], dtype=np.int64)


def check_models(models, at_least: int = 1, what: str = "policy") -> tuple[str, ...]:
    models = tuple(str(m) for m in models)
    if len(models) < at_least:
        raise InputError(f"A {what} needs at least {at_least} model(s); got {len(models)}")
    if len(set(models)) != len(models):
        raise InputError(f"A {what} lists a model twice: {', '.join(models)}")
    return models


def tried_matrix(n: int, n_models: int, cols) -> np.ndarray:
    tried = np.zeros((n, n_models), dtype=bool)
    tried[:, np.asarray(cols, dtype=np.int64)] = True
    return tried

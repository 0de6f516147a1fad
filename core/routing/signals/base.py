"""Confidence signals: how sure a cascade step is that its model's answer can be kept.

A signal answers one question per cascade step: *for each item, how confident are we (0..1) that
``model``'s answer is right?* A cascade accepts step ``i`` where ``scores >= threshold_i`` and
escalates elsewhere. Some signals must call other models to find out (agreement among cheaper
models); :meth:`Signal.consulted` names them so the cascade pays and waits for them too.

Interface (every signal, including ``LearnedCorrectness`` in ``core.routing.signals.learned_registration``)::

    signal.fit(evalset) -> signal               # learn what it needs (a no-op for most)
    signal.scores(evalset, model) -> ndarray    # float [n_items] in [0, 1]; NaN never returned
    signal.consulted(evalset, model) -> list    # extra models called alongside `model`
    signal.to_dict() -> dict                    # JSON; signal_from_dict(d) rebuilds it

>>> SelfConfidence().scores(es, "small")                            # doctest: +SKIP
array([0.9, 0.2, 0.7])
>>> Agreement(["small", "mid", "tiny"]).scores(es, "small")         # doctest: +SKIP
array([1. , 0. , 0.5])      # share of the other two that gave small's answer
>>> Agreement(["small", "mid", "tiny"]).consulted(es, "small")      # doctest: +SKIP
['mid', 'tiny']

A signal that cannot be computed on an eval set (no confidence column, no predictions) raises
:class:`~core.errors.InputError` saying which signal would work instead.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet


class Signal(ABC):
    """Per-item confidence for one cascade step. Subclasses set ``kind`` and register."""

    kind: ClassVar[str] = "signal"
    #: True when scores depend on a fit (a cascade calls ``fit`` before scoring).
    needs_fit: ClassVar[bool] = False

    def fit(self, evalset: EvalSet) -> "Signal":
        return self

    @abstractmethod
    def scores(self, evalset: EvalSet, model: str) -> np.ndarray:
        """Confidence in ``model``'s answer, float [n_items] in [0, 1]."""

    def consulted(self, evalset: EvalSet, model: str) -> list[str]:
        """Models called besides ``model`` to compute the signal (their cost is counted)."""
        return []

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def label(self) -> str:
        """Short human description for pages and charts."""
        return self.kind

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()})"


# -- registry ----------------------------------------------------------------------------------
SIGNALS: dict[str, Callable[[dict], Signal]] = {}


def register_signal(kind: str, builder: Callable[[dict], Signal]) -> None:
    """Make ``signal_from_dict({"kind": kind, ...})`` build a signal with ``builder(d)``."""
    SIGNALS[kind] = builder


def signal_from_dict(spec: dict | str | Signal) -> Signal:
    """A signal from its ``to_dict()`` form, a bare kind name, or a signal (returned as is).

    >>> signal_from_dict("confidence")
    SelfConfidence({'kind': 'confidence'})
    """
    if isinstance(spec, Signal):
        return spec
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict) or "kind" not in spec:
        raise InputError(f"A signal must be a name or a dict with 'kind'; got {spec!r}")
    _load_optional_signals()
    kind = spec["kind"]
    if kind not in SIGNALS:
        raise InputError(f"Unknown signal '{kind}': known signals are {', '.join(sorted(SIGNALS))}")
    return SIGNALS[kind](spec)


def _load_optional_signals() -> None:
    """Signals defined in other modules register on import (the learned one needs scikit-learn)."""
    if "learned" not in SIGNALS:
        import core.routing.signals.learned_registration  # noqa: F401  (imported late: it imports this module)


# -- the model's own confidence ----------------------------------------------------------------
class SelfConfidence(Signal):
    """The confidence the model reported with its answer (the eval set's ``confidence`` column).

    Items where the model gave no confidence get 0 (they escalate: an unsure step never keeps
    an answer it cannot vouch for). A model with no confidence at all raises InputError.
    """

    kind = "confidence"

    def scores(self, evalset: EvalSet, model: str) -> np.ndarray:
        col = evalset.confidence[:, evalset.model_index(model)].astype(float)
        if np.isnan(col).all():
            raise InputError(
                f"Model '{model}' reports no confidence in {evalset.name}; use the agreement "
                "signal (cheaper models voting) or the learned signal instead")
        return np.clip(np.nan_to_num(col, nan=0.0), 0.0, 1.0)

    def label(self) -> str:
        return "self-reported confidence"


register_signal("confidence", lambda d: SelfConfidence())


# -- agreement among cheaper models ------------------------------------------------------------
def answer_keys(evalset: EvalSet) -> np.ndarray:
    """Comparable answers [n, m] (object, None = no answer): the normalized prediction, else the
    normalized output text (RouterBench ships only outputs such as ``'A\\n'``)."""
    cached = _ANSWER_CACHE.get(id(evalset))
    if cached is not None and cached[0] is evalset:
        return cached[1]
    pred = evalset.prediction
    out = evalset.output
    base = np.where(pd.isna(pred), out, pred).astype(object)
    flat = pd.Series(base.reshape(-1), dtype="object")
    norm = flat.astype("string").str.strip().str.casefold()
    norm = norm.where(norm.notna() & (norm != ""), None)
    keys = norm.astype(object).where(norm.notna(), None).to_numpy(dtype=object).reshape(base.shape)
    if len(_ANSWER_CACHE) >= 4:  # a few eval sets (e.g. a fold's training and held-out rows)
        _ANSWER_CACHE.pop(next(iter(_ANSWER_CACHE)))
    _ANSWER_CACHE[id(evalset)] = (evalset, keys)
    return keys


_ANSWER_CACHE: dict[int, tuple[EvalSet, np.ndarray]] = {}


class Agreement(Signal):
    """Share of the other ``models`` that gave the same answer as the step's model.

    The ensemble pattern: when two or three cheap models agree, accept; when they disagree,
    escalate. Every model in ``models`` is called (in parallel with the step's model) and paid
    for. With ``Agreement(["a", "b", "c"])`` on step ``a``: 1.0 when b and c both give a's
    answer, 0.5 when one does, 0 when none does or when a gave no answer.
    """

    kind = "agreement"

    def __init__(self, models: list[str] | tuple[str, ...]):
        self.agree_models = tuple(models)
        if len(self.agree_models) < 2:
            raise InputError("Agreement needs at least 2 models (the step's model and one more)")

    def _others(self, model: str) -> list[str]:
        return [m for m in self.agree_models if m != model]

    def scores(self, evalset: EvalSet, model: str) -> np.ndarray:
        keys = answer_keys(evalset)
        j = evalset.model_index(model)
        others = [evalset.model_index(m) for m in self._others(model)]
        own = keys[:, j]
        if pd.isna(own).all():
            raise InputError(
                f"Model '{model}' has no predictions or outputs in {evalset.name}, so agreement "
                "cannot be measured; use the self-reported or learned signal instead")
        has = ~pd.isna(own)
        votes = np.zeros(evalset.n_items)
        for k in others:  # a handful of columns; each comparison is vectorized over items
            votes += (keys[:, k] == own) & has
        return votes / max(len(others), 1)

    def consulted(self, evalset: EvalSet, model: str) -> list[str]:
        return self._others(model)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "models": list(self.agree_models)}

    def label(self) -> str:
        return "agreement of " + ", ".join(self.agree_models)


register_signal("agreement", lambda d: Agreement(d.get("models") or []))

"""Cascade: try the cheap model first, escalate when the signal says it is unsure.

``Cascade(["small", "mid", "big"], [0.8, 0.6])`` keeps small's answer where small's confidence
is at least 0.8; else calls mid and keeps its answer where mid's confidence is at least 0.6; else
calls big, which always answers. An escalated item pays for, and waits for, every model it tried
(and every extra model its signal consulted, e.g. cheaper models voting under ``Agreement``).

>>> Cascade(["small", "big"], [0.7]).evaluate(es).escalation_rate
0.75

A threshold above the largest possible signal (e.g. 1.01) escalates everything; 0 keeps every
answer of that step. Evaluation is O(n·k) numpy: fast enough to rerun on every slider move.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.policies.base import NotFittedError, Outcome, Policy
from core.routing.policies.common import check_models, model_columns
from core.routing.signals import Signal, signal_from_dict


@dataclass(frozen=True, eq=False)
class CascadePlan:
    """Everything about a cascade on an eval set except its thresholds.

    ``conf[:, s]`` is step ``s``'s signal; ``step_cost[:, s]`` / ``step_latency[:, s]`` are what
    reaching step ``s`` adds (the models first called there: summed cost, slowest latency since
    a step's model and its consulted models run in parallel). ``first_step[j]`` is the step at
    which eval-set column ``j`` is first called (``k`` = never).
    """

    models: tuple[str, ...]
    cols: np.ndarray  # int [k]: eval-set column of each step's model
    conf: np.ndarray  # float [n, k-1]
    step_cost: np.ndarray  # float [n, k]
    step_latency: np.ndarray  # float [n, k]
    first_step: np.ndarray  # int [n_models]
    score: np.ndarray  # float [n, k]: score of each step's model

    @property
    def k(self) -> int:
        return len(self.models)

    def stops(self, thresholds) -> np.ndarray:
        """Step whose answer is kept, per item (first step whose signal clears its threshold);
        ``thresholds`` is one per step ``[k-1]`` or one per item and step ``[n, k-1]``."""
        t = np.asarray(thresholds, dtype=float)
        accept = np.ones((self.conf.shape[0], self.k), dtype=bool)
        accept[:, :-1] = self.conf >= (t if t.ndim == 2 else t[None, :])
        return np.argmax(accept, axis=1)


def plan_cascade(evalset: EvalSet, models, signal: Signal) -> CascadePlan:
    """Signals and per-step cost/latency of a cascade over ``models`` (thresholds come later)."""
    models = check_models(models, 2, "cascade")
    cols = model_columns(evalset, models)
    n, k = evalset.n_items, len(models)
    conf = np.empty((n, k - 1))
    first_step = np.full(evalset.n_models, k, dtype=np.int64)
    step_cost = np.zeros((n, k))
    step_latency = np.zeros((n, k))
    for s, model in enumerate(models):
        called = [cols[s]]
        if s < k - 1:  # the last step always answers: no signal needed
            conf[:, s] = signal.scores(evalset, model)
            if np.isnan(conf[:, s]).any():  # a signal with no opinion does not vouch: escalate
                conf[np.isnan(conf[:, s]), s] = 0.0
            called += [evalset.model_index(m) for m in signal.consulted(evalset, model)]
        new = [j for j in dict.fromkeys(called) if first_step[j] == k]
        first_step[new] = s
        if new:
            step_cost[:, s] = evalset.cost[:, new].sum(axis=1)
            step_latency[:, s] = evalset.latency_ms[:, new].max(axis=1)
    return CascadePlan(models, cols, conf, step_cost, step_latency, first_step,
                       evalset.score[:, cols])


def outcome_at(evalset: EvalSet, plan: CascadePlan, thresholds) -> Outcome:
    """The cascade's Outcome at ``thresholds`` (one per step but the last, or one row of them
    per item), O(n·k)."""
    stop = plan.stops(thresholds)
    rows = np.arange(len(stop))
    cost = np.cumsum(plan.step_cost, axis=1)[rows, stop]
    latency = np.cumsum(plan.step_latency, axis=1)[rows, stop]
    tried = stop[:, None] >= plan.first_step[None, :]
    return Outcome(evalset.models, tried, plan.cols[stop], cost, latency,
                   plan.score[rows, stop], escalated=stop > 0)


class Cascade(Policy):
    """Ordered models with a threshold per step; the last model always answers.

    ``signal`` is a :class:`~core.routing.signals.base.Signal`, its dict form, or a name:
    ``"confidence"`` (the model's own); ``{"kind": "agreement", "models": [...]}`` (cheap peers
    voting); ``{"kind": "learned"}`` (learned P(correct), which ``fit`` trains: fitted, it is
    ``signal_``).

    >>> es = EvalSet.from_arrays("t", ["small", "big"], score=[[1, 1], [0, 1]], cost=[[1, 10], [1, 10]],
    ...                          confidence=[[0.9, 1], [0.4, 1]])
    >>> out = Cascade(["small", "big"], [0.7]).evaluate(es)
    >>> out.quality, out.cost_per_item, out.escalation_rate
    (1.0, 6.0, 0.5)
    """

    kind = "cascade"

    def __init__(self, models, thresholds, signal="confidence"):
        self.models = check_models(models, 2, "cascade")
        self.thresholds = [float(t) for t in thresholds]
        if len(self.thresholds) != len(self.models) - 1:
            raise InputError(f"A cascade of {len(self.models)} models needs "
                             f"{len(self.models) - 1} threshold(s); got {len(self.thresholds)}")
        if any(np.isnan(self.thresholds)):
            raise InputError("Cascade thresholds must be numbers, not NaN")
        self.signal = signal_from_dict(signal)
        self._plans: dict[int, tuple[EvalSet, CascadePlan]] = {}

    def fit(self, evalset: EvalSet) -> Cascade:
        """Fit the signal (learned signals train here); thresholds are set by the caller."""
        self.signal_ = copy.copy(self.signal).fit(evalset)
        self._plans = {}
        return self

    @property
    def fitted_signal(self) -> Signal:
        """The signal that scores items: the one ``fit`` trained, else the given one (which
        must not need training, or must come trained, e.g. from a saved policy)."""
        signal = self._current_signal()
        if not signal.is_fitted:
            raise NotFittedError(f"This cascade's {signal.kind} signal is not fitted yet: call "
                                 "fit(train) on a labeled eval set before routing with it")
        return signal

    @property
    def is_fitted(self) -> bool:
        return self._current_signal().is_fitted

    def _current_signal(self) -> Signal:
        return getattr(self, "signal_", None) or self.signal

    def plan(self, evalset: EvalSet) -> CascadePlan:
        """Signal and cost arrays for ``evalset``, cached: moving a threshold reuses them."""
        hit = self._plans.get(id(evalset))
        if hit is not None and hit[0] is evalset:
            return hit[1]
        plan = plan_cascade(evalset, self.models, self.fitted_signal)
        self.remember_plan(evalset, plan)
        return plan

    def remember_plan(self, evalset: EvalSet, plan: CascadePlan) -> None:
        """Reuse an already computed plan for ``evalset`` (e.g. the frontier's)."""
        self._plans = {id(evalset): (evalset, plan)}

    def evaluate(self, evalset: EvalSet) -> Outcome:
        return outcome_at(evalset, self.plan(evalset), self.thresholds)

    def models_called(self) -> tuple[str, ...]:
        extra = tuple(m for m in self._current_signal().models_consulted()
                      if m not in self.models)
        return self.models + extra

    def to_dict(self) -> dict:
        return {"kind": self.kind, "models": list(self.models),
                "thresholds": list(self.thresholds),
                "signal": self._current_signal().to_dict()}

    def __repr__(self) -> str:
        return f"Cascade({list(self.models)}, {self.thresholds}, {self.signal.kind!r})"

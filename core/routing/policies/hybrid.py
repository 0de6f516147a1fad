"""The hybrid router: a task table whose entries are a model or a cascade with its own threshold.

"Legal goes straight to the strong model, billing cascades small -> big at 0.85"::

    HybridRouter({"legal": "big", "billing": {"models": ["small", "big"], "thresholds": [0.85]}},
                 default="mid", signal="confidence")

An entry is a model name or ``{"models": [m1, ..., mk], "thresholds": [t1, ..., t(k-1)]}`` (a
:class:`~core.routing.policies.cascade.Cascade` without its signal); ``default`` (same forms)
serves tasks not in the table and items without a task. Every cascade entry uses the policy's
one ``signal`` (fitted once by :meth:`HybridRouter.fit`, stored once), each with its own
thresholds. An item of a cascade entry is decided exactly as ``Cascade(models, thresholds,
signal)`` decides it (:meth:`HybridRouter.entry_policy`, which the gateway runs live).

On the hand-computed 4-item set: i1 (billing) keeps small (confidence 0.9 >= 0.85, $0.001), i2
(billing) escalates to big (0.6, $0.001 + $0.010), i3 and i4 (legal) go to big ($0.010 each):

>>> out = HybridRouter({"legal": "big", "billing": {"models": ["small", "big"], "thresholds": [0.85]}},
...                    default="mid").evaluate(es)
>>> out.quality, round(out.cost_per_item, 6), out.calls(), out.escalation_rate
(0.75, 0.008, {'big': 3, 'mid': 0, 'small': 2}, 0.25)
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.policies.base import NotFittedError, Outcome, Policy
from core.routing.policies.cascade import Cascade, CascadePlan, outcome_at, plan_cascade
from core.routing.policies.common import check_models
from core.routing.policies.single import SingleModel
from core.routing.policies.task_router import one_call_outcome
from core.routing.signals import Signal, signal_from_dict

Entry = str | dict[str, Any]


def parse_entry(entry, where: str) -> Entry:
    """A model name, or ``{"models": [...], "thresholds": [...]}`` checked as a cascade's.

    >>> parse_entry({"models": ["small", "big"], "thresholds": [0.85]}, "task spam")
    {'models': ['small', 'big'], 'thresholds': [0.85]}
    >>> parse_entry("big", "task legal")
    'big'
    """
    if isinstance(entry, str) and entry.strip():
        return entry.strip()
    if isinstance(entry, dict) and set(entry) == {"models", "thresholds"}:
        models = list(check_models(entry["models"], 2, f"cascade ({where})"))
        try:
            thresholds = [float(t) for t in entry["thresholds"]]
        except (TypeError, ValueError):
            raise InputError(f"The cascade of {where} needs numeric thresholds; got "
                             f"{entry['thresholds']!r}") from None
        if len(thresholds) != len(models) - 1 or any(np.isnan(thresholds)):
            raise InputError(f"The cascade of {where} has {len(models)} models and needs "
                             f"{len(models) - 1} numeric threshold(s); got {entry['thresholds']!r}")
        return {"models": models, "thresholds": thresholds}
    raise InputError(f"The entry of {where} must be a model name or {{\"models\": [...], "
                     f"\"thresholds\": [...]}}; got {entry!r}")


def describe_entry(entry: Entry) -> str:
    """An entry in words.

    >>> describe_entry({"models": ["small", "big"], "thresholds": [0.85]}), describe_entry("big")
    ('cascade small > big at 0.85', 'big')
    """
    if isinstance(entry, str):
        return entry
    return f"cascade {' > '.join(entry['models'])} at {', '.join(f'{t:.3g}' for t in entry['thresholds'])}"


def table_from_rows(rows) -> dict[str, Entry]:
    """``{task: entry}`` from table rows ``(task, model, cascade_to, threshold)``: a row naming a
    model to cascade to is the cascade from its model at its threshold, else its model alone.

    >>> table_from_rows([("legal", "big", None, None), ("spam", "small", "big", 0.85)])
    {'legal': 'big', 'spam': {'models': ['small', 'big'], 'thresholds': [0.85]}}
    """
    table: dict[str, Entry] = {}
    for task, model, to, threshold in rows:
        if to is None or to != to or str(to) == "":
            table[str(task)] = str(model)
            continue
        if threshold is None or threshold != threshold:
            raise InputError(f"Task {task!r}: the cascade from {model} to {to} needs a threshold "
                             "(column 'threshold': the first model's answer is kept where the "
                             "signal reaches it)")
        table[str(task)] = parse_entry({"models": [model, to], "thresholds": [threshold]}, f"task {task!r}")
    return table


def entry_models(entry: Entry) -> tuple[str, ...]:
    return (entry,) if isinstance(entry, str) else tuple(entry["models"])


class HybridRouter(Policy):
    """``table`` maps task -> entry (a model, or a cascade with its thresholds); other tasks go
    to ``default``; ``signal`` gates every cascade entry (a name, dict or
    :class:`~core.routing.signals.base.Signal`; a learned one is trained by ``fit`` as
    ``signal_``)."""

    kind = "hybrid"

    def __init__(self, table: dict[str, Entry], default: Entry, signal="confidence"):
        self.table = {str(t): parse_entry(e, f"task {t!r}") for t, e in dict(table).items()
                      if e is not None and e != ""}
        if default is None or default == "":
            raise InputError("A hybrid routing table needs a default (a model or a cascade)")
        self.default = parse_entry(default, "the default")
        self.signal = signal_from_dict(signal)
        self._plans: dict[tuple, tuple[EvalSet, CascadePlan]] = {}

    # -- fitting (the signal only: thresholds are parameters) ---------------------------------
    @property
    def has_cascade(self) -> bool:
        return any(isinstance(e, dict) for e in [*self.table.values(), self.default])

    def fit(self, evalset: EvalSet) -> HybridRouter:
        if self.has_cascade:
            self.signal_ = copy.copy(self.signal).fit(evalset)
        self._plans = {}
        return self

    def _current_signal(self) -> Signal:
        return getattr(self, "signal_", None) or self.signal

    @property
    def is_fitted(self) -> bool:
        return not self.has_cascade or self._current_signal().is_fitted

    @property
    def fitted_signal(self) -> Signal:
        signal = self._current_signal()
        if not signal.is_fitted:
            raise NotFittedError(f"This hybrid router's {signal.kind} signal is not fitted yet: "
                                 "call fit(train) on a labeled eval set before routing with it")
        return signal

    # -- routing -------------------------------------------------------------------------------
    def entry_for(self, task) -> Entry:
        """The entry serving ``task`` (None or a task not in the table: the default)."""
        return self.table.get("all" if task is None else str(task), self.default)

    def entry_policy(self, task) -> Policy:
        """What serves ``task``, as a policy of its own: the model alone, or the cascade with
        this router's fitted signal (the gateway runs it; it decides as :meth:`evaluate`)."""
        entry = self.entry_for(task)
        if isinstance(entry, str):
            return SingleModel(entry)
        return Cascade(entry["models"], entry["thresholds"], self.fitted_signal)

    def plan(self, evalset: EvalSet, models: tuple[str, ...]) -> CascadePlan:
        """The cascade plan of ``models`` on ``evalset`` (cached: entries sharing models share it)."""
        hit = self._plans.get(models)
        if hit is not None and hit[0] is evalset:
            return hit[1]
        plan = plan_cascade(evalset, models, self.fitted_signal)
        self._plans[models] = (evalset, plan)
        return plan

    def evaluate(self, evalset: EvalSet) -> Outcome:
        entries = list({repr(e): e for e in [*self.table.values(), self.default]}.values())
        index = {repr(e): i for i, e in enumerate(entries)}
        tasks = pd.Series(evalset.tasks).astype(str)
        which = tasks.map({t: index[repr(e)] for t, e in self.table.items()}) \
            .fillna(index[repr(self.default)]).to_numpy(dtype=np.int64)
        first = np.array([evalset.model_index(entry_models(e)[0]) for e in entries], dtype=np.int64)
        out = one_call_outcome(evalset, first[which])
        tried, kept = out.tried.copy(), out.kept.copy()
        cost, latency, score = out.cost.copy(), out.latency_ms.copy(), out.score.copy()
        escalated = np.zeros(evalset.n_items, dtype=bool)
        by_models: dict[tuple[str, ...], list[int]] = {}
        for i, e in enumerate(entries):
            if isinstance(e, dict):
                by_models.setdefault(tuple(e["models"]), []).append(i)
        for models, ids in by_models.items():
            rows = np.isin(which, ids)
            if not rows.any():
                continue
            thresholds = np.zeros((evalset.n_items, len(models) - 1))
            for i in ids:
                thresholds[which == i] = entries[i]["thresholds"]
            o = outcome_at(evalset, self.plan(evalset, models), thresholds)
            tried[rows], kept[rows], cost[rows] = o.tried[rows], o.kept[rows], o.cost[rows]
            latency[rows], score[rows], escalated[rows] = o.latency_ms[rows], o.score[rows], o.escalated[rows]
        return Outcome(evalset.models, tried, kept, cost, latency, score, escalated=escalated)

    def models_called(self) -> tuple[str, ...]:
        models = [m for e in [*self.table.values(), self.default] for m in entry_models(e)]
        if self.has_cascade:
            models += list(self._current_signal().models_consulted())
        return tuple(dict.fromkeys(models))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "table": copy.deepcopy(self.table),
                "default": copy.deepcopy(self.default), "signal": self._current_signal().to_dict()}

    def __repr__(self) -> str:
        return f"HybridRouter({self.table!r}, {self.default!r}, {self.signal.kind!r})"

"""What every routing policy shares: ``evaluate(evalset) -> Outcome``.

A policy decides, per item, which models are called and whose answer is kept. Its
:class:`Outcome` holds per-item arrays; every metric (quality, cost per item, traffic share,
escalation rate, latency percentiles) is computed from them, vectorized.

>>> from core.routing.policies import SingleModel
>>> outcome = SingleModel("small").evaluate(es)
>>> outcome.quality, outcome.cost_per_item
(0.5, 0.001)
"""
from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from core.errors import InputError
from core.evaluation.evalset import EvalSet


@dataclass(frozen=True, eq=False)
class Outcome:
    """Per item: models tried, model kept, what it cost and how long it took, how good it was."""

    models: tuple[str, ...]  # the eval set's model columns
    tried: np.ndarray  # bool [n, m]: models called for the item
    kept: np.ndarray  # int [n]: column of the answer kept (-1: no answer)
    cost: np.ndarray  # float [n]: summed cost of every model tried (NaN if any cost unknown)
    latency_ms: np.ndarray  # float [n]: wall time (a cascade waits for each step in turn)
    score: np.ndarray  # float [n]: score of the kept answer (NaN = not scored)
    # bool [n]: the item went past the first step (a cascade escalated). None: more than one
    # model called. Cascades set it because a signal may consult extra models on every item.
    escalated: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return len(self.kept)

    @property
    def quality(self) -> float:
        """Mean score over scored items (missing scores are excluded, never zero)."""
        s = self.score[~np.isnan(self.score)]
        return float(s.mean()) if len(s) else float("nan")

    @property
    def cost_per_item(self) -> float:
        return float(np.nanmean(self.cost)) if len(self.cost) and not np.isnan(self.cost).all() else float("nan")

    @property
    def scored(self) -> int:
        return int((~np.isnan(self.score)).sum())

    def calls(self) -> dict[str, int]:
        """Calls per model (a cascade calls several models for one item)."""
        return {m: int(c) for m, c in zip(self.models, self.tried.sum(axis=0))}

    def traffic_share(self) -> dict[str, float]:
        """Share of items whose kept answer came from each model."""
        counts = np.bincount(self.kept[self.kept >= 0], minlength=len(self.models))
        return {m: float(c) / max(self.n_items, 1) for m, c in zip(self.models, counts)}

    @property
    def escalation_rate(self) -> float:
        """Share of items that called more than one model."""
        if not self.n_items:
            return float("nan")
        if self.escalated is not None:
            return float(np.mean(self.escalated))
        return float((self.tried.sum(axis=1) > 1).mean())

    def latency_percentiles(self, qs=(50, 95, 99)) -> dict[int, float]:
        lat = self.latency_ms[~np.isnan(self.latency_ms)]
        return {q: (float(np.percentile(lat, q)) if len(lat) else float("nan")) for q in qs}


class NotFittedError(InputError):
    """A policy that learns from data was asked to route before it was fitted."""


class Policy(ABC):
    """A routing rule, with scikit-learn's conventions.

    * Parameters are the ``__init__`` arguments, stored under the same names
      (:meth:`get_params`); fitted attributes end with ``_`` and are set only by :meth:`fit`.
    * ``fit(evalset) -> self`` learns what the rule needs (a no-op for fixed rules);
      ``evaluate(evalset) -> Outcome`` routes every item; a rule that must learn and was never
      fitted raises :class:`NotFittedError` instead of fitting on the rows it is scored on.
    * ``to_dict()`` / ``from_dict()`` round-trip through JSON (``kind`` names the class in
      :data:`core.routing.policies.POLICIES`).
    * :meth:`models_called` lists every model the rule may call.
    """

    kind: ClassVar[str] = "policy"

    def fit(self, evalset: EvalSet) -> Policy:
        return self

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`evaluate` can run (fixed rules always can)."""
        return True

    def check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call "
                                 "fit(train) on a labeled eval set before routing with it")

    @abstractmethod
    def evaluate(self, evalset: EvalSet) -> Outcome:
        ...

    @abstractmethod
    def models_called(self) -> tuple[str, ...]:
        """Every model the policy may call for some item, its signals' consulted ones included."""

    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """The ``__init__`` parameters, read back from the attributes of the same names."""
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params) -> Policy:
        """Change parameters in place (fitted attributes are kept), as scikit-learn does."""
        unknown = set(params) - set(self.param_names())
        if unknown:
            raise InputError(f"{type(self).__name__} has no parameter(s) {', '.join(sorted(unknown))}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.get_params()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Policy:
        return cls(**{k: d[k] for k in cls.param_names() if k in d})

    def __repr__(self) -> str:
        args = ", ".join(repr(v) for v in self.get_params().values())
        return f"{type(self).__name__}({args})"


def outcome_from_choice(evalset: EvalSet, tried: np.ndarray, kept: np.ndarray,
                        sequential: bool = True) -> Outcome:
    """Build an Outcome from which models were tried and which was kept.

    Cost sums every tried model; latency sums them (``sequential``, as a cascade waits for each
    step) or takes the slowest (parallel calls, as an ensemble).
    """
    tried = np.asarray(tried, dtype=bool)
    kept = np.asarray(kept, dtype=np.int64)
    cost = np.where(tried, evalset.cost, 0.0).sum(axis=1)
    lat_matrix = np.where(tried, evalset.latency_ms, np.nan if not sequential else 0.0)
    if sequential:
        latency = lat_matrix.sum(axis=1)
        latency[np.isnan(np.where(tried, evalset.latency_ms, 0.0)).any(axis=1)] = np.nan
    else:
        with np.errstate(all="ignore"):
            latency = np.nanmax(np.where(tried, evalset.latency_ms, -np.inf), axis=1)
        latency[~np.isfinite(latency)] = np.nan
    rows = np.arange(len(kept))
    score = np.where(kept >= 0, evalset.score[rows, np.clip(kept, 0, None)], np.nan)
    return Outcome(evalset.models, tried, kept, cost, latency, score)

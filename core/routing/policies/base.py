"""What every routing policy shares: ``evaluate(evalset) -> Outcome``.

A policy decides, per item, which models are called and whose answer is kept. Its
:class:`Outcome` holds per-item arrays; every metric (quality, cost per item, traffic share,
escalation rate, latency percentiles) is computed from them, vectorized.

>>> outcome = SingleModel("small").evaluate(es)                     # doctest: +SKIP
>>> outcome.quality, outcome.cost_per_item                          # doctest: +SKIP
(0.5, 0.001)
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

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


class Policy(ABC):
    """A routing rule. Subclasses set ``kind`` and implement :meth:`evaluate`.

    ``fit`` learns from an eval set (a no-op for fixed rules) and returns ``self``;
    ``to_dict``/``policy_from_dict`` round-trip a policy through JSON for saving and download.
    """

    kind: ClassVar[str] = "policy"

    def fit(self, evalset: EvalSet) -> "Policy":
        return self

    @abstractmethod
    def evaluate(self, evalset: EvalSet) -> Outcome:
        ...

    def to_dict(self) -> dict[str, Any]:
        raise TypeError(f"{type(self).__name__} cannot be saved")

    @property
    def models(self) -> tuple[str, ...]:
        """Models the policy may call."""
        return ()


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


# -- saving and loading ------------------------------------------------------------------------
POLICIES: dict[str, type] = {}


def register_policy(cls: type) -> type:
    """Class decorator: ``policy_from_dict({"kind": cls.kind, ...})`` calls ``cls.from_dict``."""
    POLICIES[cls.kind] = cls
    return cls


def policy_from_dict(d: dict[str, Any]) -> Policy:
    """Rebuild a policy from its ``to_dict()`` form (e.g. a downloaded JSON file).

    >>> policy_from_dict({"kind": "single", "model": "small"})       # doctest: +SKIP
    SingleModel('small')
    """
    import core.routing.policies  # noqa: F401  (registers the built-in policies)
    from core.errors import InputError

    if not isinstance(d, dict) or "kind" not in d:
        raise InputError(f"A policy must be a JSON object with a 'kind'; got {str(d)[:80]!r}")
    if d["kind"] not in POLICIES:
        raise InputError(f"Unknown policy kind '{d['kind']}': known kinds are "
                         f"{', '.join(sorted(POLICIES))}")
    try:
        return POLICIES[d["kind"]].from_dict(d)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"Policy '{d['kind']}' is malformed: {exc}") from None

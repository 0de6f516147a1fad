"""What every confidence signal answers: how sure a cascade step is that its model is right.

A signal answers one question per cascade step: *for each item, how confident are we (0..1) that
``model``'s answer is right?* A cascade accepts step ``i`` where ``scores >= threshold_i`` and
escalates elsewhere. Some signals must call other models to find out (agreement among cheaper
models); :meth:`Signal.consulted` names them so the cascade pays and waits for them too.

Interface (every signal)::

    signal.fit(evalset) -> signal               # learn what it needs (a no-op for most)
    signal.is_fitted                            # True once it can score (always, for most)
    signal.scores(evalset, model) -> ndarray    # float [n_items] in [0, 1]; NaN never returned
    signal.consulted(evalset, model) -> list    # extra models called alongside `model`
    signal.to_dict() -> dict                    # JSON; core.routing.signals.signal_from_dict(d)

A signal that cannot be computed on an eval set (no confidence column, no predictions) raises
:class:`~core.errors.InputError` saying which signal would work instead.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from core.evaluation.evalset import EvalSet


class Signal(ABC):
    """Per-item confidence for one cascade step. Subclasses set ``kind``."""

    kind: ClassVar[str] = "signal"

    def fit(self, evalset: EvalSet) -> Signal:
        return self

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`scores` can run (signals that learn nothing always can)."""
        return True

    @abstractmethod
    def scores(self, evalset: EvalSet, model: str) -> np.ndarray:
        """Confidence in ``model``'s answer, float [n_items] in [0, 1]."""

    def consulted(self, evalset: EvalSet, model: str) -> list[str]:
        """Models called besides ``model`` to compute the signal (their cost is counted)."""
        return []

    def models_consulted(self) -> tuple[str, ...]:
        """Every model this signal may call besides the step's own (for any step)."""
        return ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Signal:
        return cls()

    def label(self) -> str:
        """Short human description for pages and charts."""
        return self.kind

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()})"

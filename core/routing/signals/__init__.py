"""Confidence signals for cascade steps, and the registry that rebuilds them from JSON.

Each signal is one small class in its own module answering one question (see
:mod:`core.routing.signals.base`). The registry below maps a saved ``kind`` to its class;
adding a signal means one module and one line here. The learned signals need scikit-learn,
which is slow to import, so their entries are dotted paths resolved on first use.

>>> signal_from_dict("confidence")
SelfConfidence({'kind': 'confidence'})
>>> signal_from_dict({"kind": "agreement", "models": ["a", "b"]}).label()
'agreement of a, b'
"""
from __future__ import annotations

from core.errors import InputError
from core.routing.lazy_registry import registered
from core.routing.signals.agreement import Agreement
from core.routing.signals.base import Signal
from core.routing.signals.confidence import SelfConfidence

SIGNALS: dict[str, type[Signal] | str] = {
    "confidence": SelfConfidence,
    "agreement": Agreement,
    "learned": "core.routing.signals.learned:LearnedCorrectness",
    "prompt": "core.routing.signals.prompt_correctness:PromptCorrectness",
    "answer": "core.routing.signals.answer_scorer:AnswerScorer",
}

__all__ = ["SIGNALS", "Signal", "SelfConfidence", "Agreement", "signal_class", "signal_from_dict"]


def signal_class(kind: str) -> type[Signal]:
    """The class registered for ``kind`` (imported on first use for lazy entries)."""
    return registered(SIGNALS, kind, "signal", "signals")


def signal_from_dict(spec: dict | str | Signal) -> Signal:
    """A signal from its ``to_dict()`` form, a bare kind name, or a signal (returned as is)."""
    if isinstance(spec, Signal):
        return spec
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict) or "kind" not in spec:
        raise InputError(f"A signal must be a name or a dict with 'kind'; got {spec!r}")
    return signal_class(spec["kind"]).from_dict(spec)

"""Registers the learned signal (``kind: "learned"``) with ``core.routing.signals.base``.

``core.routing.signals.base.signal_from_dict`` imports this module on demand; the code lives in
:mod:`core.routing.learned` beside the learned router that shares it.
"""
from core.routing.learned import LearnedCorrectness, LearnedRouter  # noqa: F401  (registers on import)

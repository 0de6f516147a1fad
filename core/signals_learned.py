"""Registers the learned signal (``kind: "learned"``) with ``core.signals``.

``core.signals.signal_from_dict`` imports this module on demand; the code lives in
:mod:`core.learned` beside the learned router that shares it.
"""
from core.learned import LearnedCorrectness, LearnedRouter  # noqa: F401  (registers on import)

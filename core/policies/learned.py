"""The learned router policy (``kind: "learned_router"``); the code lives in :mod:`core.learned`
beside the learned signal it shares its model with."""
from core.learned import LearnedRouter  # noqa: F401  (registers on import)

"""The learned router policy (``kind: "learned_router"``).

The code lives in :mod:`core.routing.learned` beside the learned signal it shares its model with. It
needs scikit-learn, which takes seconds to import, so it is registered here lazily: reading a
saved learned router imports it; every other policy loads without it.
"""
from core.routing.policies.base import POLICIES


class LazyLearnedRouter:
    """Registry entry standing in for :class:`core.routing.learned.LearnedRouter` until one is read."""

    kind = "learned_router"

    @staticmethod
    def from_dict(d: dict):
        from core.routing.learned import LearnedRouter

        return LearnedRouter.from_dict(d)


POLICIES.setdefault(LazyLearnedRouter.kind, LazyLearnedRouter)
LearnedRouter = LazyLearnedRouter  # the name core.routing.policies imports

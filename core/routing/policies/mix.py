"""The mix: a deterministic hash split of traffic between two policies.

``Mix(a, b, alpha)`` sends an item to ``b`` when its hash share is below ``alpha`` and to ``a``
otherwise. Between two operating points of a frontier, the mix reaches every point of the
straight line joining them, so the optimizer always has a plan between "cheap" and "strong",
never below the line of random mixes of single models.

**The hash, exactly** (the gateway must decide the same way; :func:`mix_share`, :func:`mix_arm`):

1. the unit of the split is the request's prompt text: the eval set's ``input`` of the item
   (where an item has no input, its ``item_id``); live, the user prompt the gateway receives,
   which is what it puts in ``input`` (``core.gateway.executors.one_row``);
2. ``digest = blake2b((salt + text).encode("utf-8"), digest_size=8).digest()``;
3. ``share = int.from_bytes(digest, "big") / 2**64``, uniform in [0, 1);
4. the item goes to ``b`` when ``share < alpha``, else to ``a``.

The same prompt always takes the same arm, on every machine and in every run, so a mix evaluated
offline is exactly the mix served live. The policy's *expected* figures (the optimizer's
estimate) are ``(1 - alpha) * a + alpha * b``; on a finite eval set the realised split adds its
own sampling noise.

The four items of the tiny eval set (no input column: hashed on their ids i1..i4) have shares
0.738, 0.732, 0.406 and 0.956; with ``alpha = 0.5`` only i3 goes to ``b``:

>>> [round(mix_share(t), 3) for t in ["i1", "i2", "i3", "i4"]], mix_arm("i3", 0.5), mix_arm("i1", 0.5)
([0.738, 0.732, 0.406, 0.956], 1, 0)
>>> from core.routing.policies.single import SingleModel
>>> Mix(SingleModel("small"), SingleModel("big"), alpha=0.5).evaluate(es).calls()
{'big': 1, 'mid': 0, 'small': 3}
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from core.errors import InputError
from core.evaluation.evalset import EvalSet
from core.routing.packing import is_packed
from core.routing.policies.base import Outcome, Policy
from core.routing.policies.registry import policy_from_dict

DEFAULT_SALT = "tradeoff-mix"


def mix_share(text: str, salt: str = DEFAULT_SALT) -> float:
    """The item's uniform share in [0, 1): blake2b-64 of ``salt + text`` (UTF-8), big-endian."""
    digest = hashlib.blake2b((salt + str(text)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


def mix_arm(text: str, alpha: float, salt: str = DEFAULT_SALT) -> int:
    """1 when the request goes to the mix's ``b`` policy (share < alpha), else 0 (``a``)."""
    return int(mix_share(text, salt) < alpha)


def split_units(evalset: EvalSet) -> list[str]:
    """The text each item is hashed on: its input, else its item id."""
    items = evalset.items
    ids = items["item_id"].astype(str).tolist() if "item_id" in items else \
        [str(i) for i in range(evalset.n_items)]
    if "input" not in items:
        return ids
    inputs = items["input"]
    return [str(x) if x is not None and x == x else i for x, i in zip(inputs.tolist(), ids)]


def escalated(out: Outcome) -> np.ndarray:
    """bool [n]: the item went past its first step (cascades say so; others: several calls)."""
    if out.escalated is not None:
        return np.asarray(out.escalated, dtype=bool)
    return out.tried.sum(axis=1) > 1


def main_part(policy: Policy) -> Policy:
    """The part of a mix that answers more items (a policy that is not a mix: itself).

    >>> from core.routing.policies import SingleModel
    >>> main_part(Mix(SingleModel("small"), SingleModel("big"), alpha=0.7))
    SingleModel('big')
    """
    if isinstance(policy, Mix):
        return main_part(policy.b if policy.alpha > 0.5 else policy.a)
    return policy


class Mix(Policy):
    """``b`` on the items whose hash share is below ``alpha``, ``a`` on the others.

    ``a`` and ``b`` are policies (or their dict forms); ``salt`` names the split (two mixes
    with different salts split independently).
    """

    kind = "mix"

    def __init__(self, a, b, alpha: float, salt: str = DEFAULT_SALT):
        self.a = policy_from_dict(a) if isinstance(a, dict) else a
        self.b = policy_from_dict(b) if isinstance(b, dict) else b
        if not isinstance(self.a, Policy) or not isinstance(self.b, Policy):
            raise InputError("A mix needs two policies")
        self.alpha = float(alpha)
        if not 0.0 <= self.alpha <= 1.0:
            raise InputError(f"A mix's alpha is the share sent to b, between 0 and 1; got {alpha}")
        self.salt = str(salt)

    def arm(self, text: str) -> Policy:
        """The policy that answers a request whose prompt is ``text`` (for the gateway)."""
        return self.b if mix_arm(text, self.alpha, self.salt) else self.a

    def to_b(self, evalset: EvalSet) -> np.ndarray:
        """bool [n]: items the mix sends to ``b``."""
        return np.array([mix_share(t, self.salt) < self.alpha for t in split_units(evalset)], dtype=bool)

    def fit(self, evalset: EvalSet) -> Mix:
        self.a.fit(evalset)
        self.b.fit(evalset)
        return self

    @property
    def is_fitted(self) -> bool:
        return self.a.is_fitted and self.b.is_fitted

    def evaluate(self, evalset: EvalSet) -> Outcome:
        use_b = self.to_b(evalset)
        oa = self.a.evaluate(evalset) if not use_b.all() else None
        ob = self.b.evaluate(evalset) if use_b.any() else None
        if oa is None or ob is None:
            return ob if oa is None else oa
        pick = use_b[:, None]
        return Outcome(evalset.models, np.where(pick, ob.tried, oa.tried),
                       np.where(use_b, ob.kept, oa.kept), np.where(use_b, ob.cost, oa.cost),
                       np.where(use_b, ob.latency_ms, oa.latency_ms),
                       np.where(use_b, ob.score, oa.score),
                       escalated=np.where(use_b, escalated(ob), escalated(oa)))

    def models_called(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.a.models_called() + self.b.models_called()))

    def to_dict(self) -> dict[str, Any]:
        """Both policies' dicts; packed arrays they share (e.g. one fitted signal at two
        thresholds) are stored once under ``shared`` and referenced as ``{"shared": key}``."""
        shared: dict[str, Any] = {}
        a, b = _share(self.a.to_dict(), shared), _share(self.b.to_dict(), shared)
        counts: dict[str, int] = {}
        _count_refs([a, b], counts)
        once = {k for k, n in counts.items() if n < 2}
        a, b = _inline(a, shared, once), _inline(b, shared, once)
        out = {"kind": self.kind, "a": a, "b": b, "alpha": self.alpha, "salt": self.salt}
        if len(shared) > len(once):
            out["shared"] = {k: v for k, v in shared.items() if k not in once}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Mix:
        shared = d.get("shared") or {}
        return cls(_inline(d["a"], shared, set(shared)), _inline(d["b"], shared, set(shared)),
                   d["alpha"], d.get("salt", DEFAULT_SALT))

    def __repr__(self) -> str:
        return f"Mix({self.a!r}, {self.b!r}, alpha={self.alpha:.3f})"


def _share(value, shared: dict[str, Any]):
    if is_packed(value):
        key = hashlib.sha256(value["b64"].encode("ascii")).hexdigest()[:16] + value["dtype"]
        shared.setdefault(key, value)
        return {"shared": key}
    if isinstance(value, dict):
        return {k: _share(v, shared) for k, v in value.items()}
    if isinstance(value, list):
        return [_share(v, shared) for v in value]
    return value


def _count_refs(value, counts: dict[str, int]) -> None:
    if isinstance(value, dict):
        if set(value) == {"shared"}:
            counts[value["shared"]] = counts.get(value["shared"], 0) + 1
            return
        for v in value.values():
            _count_refs(v, counts)
    elif isinstance(value, list):
        for v in value:
            _count_refs(v, counts)


def _inline(value, shared: dict[str, Any], keys: set):
    """Replace ``{"shared": key}`` references to ``keys`` by the stored arrays."""
    if isinstance(value, dict):
        if set(value) == {"shared"} and value["shared"] in keys:
            if value["shared"] not in shared:
                raise InputError(f"The mix refers to a shared array {value['shared']!r} it does not hold")
            return shared[value["shared"]]
        return {k: _inline(v, shared, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_inline(v, shared, keys) for v in value]
    return value

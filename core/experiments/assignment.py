"""Deterministic traffic assignment: hash(unit id + experiment salt) -> [0, 1) -> arm.

The same unit always lands in the same arm, in every run and every process (SHA-256, never
Python's per-process salted ``hash``), and a user keeps their arm across all their requests::

    >>> b = unit_buckets(["u1", "u2", "u1"], salt="exp-1")
    >>> bool(b[0] == b[2]), bool(0 <= b.min() and b.max() < 1)
    (True, True)
    >>> assign(["u1", "u2", "u1"], salt="exp-1", split=0.5).tolist()     # True = candidate
    [True, False, True]

A unit goes to the candidate when its bucket is below ``split`` (the candidate's traffic share).
Rollout stages use a second, independent hash (salt + ``"/rollout"``) so "the first 5% of units"
is not the same slice that decided the arms.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from core.errors import InputError

_SCALE = float(2 ** 64)
_BELOW_ONE = float(np.nextafter(1.0, 0.0))


def unit_buckets(units, salt: str) -> np.ndarray:
    """A float in [0, 1) per unit, uniform and stable across runs and processes."""
    codes, uniques = pd.factorize(np.asarray(units, dtype=object), sort=False)
    # A plain list of str: iterating an Arrow-backed array element by element is slow.
    uniques = [str(u) for u in np.asarray(uniques, dtype=object).tolist()]
    prefix = f"{salt}\x1f".encode()
    # Hash each distinct unit once (users repeat across requests); the digest's first 8 bytes
    # as an unsigned integer, scaled to [0, 1).
    per_unique = np.fromiter(
        (int.from_bytes(hashlib.sha256(prefix + u.encode()).digest()[:8], "big") / _SCALE
         for u in uniques),
        dtype=float, count=len(uniques))
    # 2**64 - 1 rounds up to 1.0 in float64; keep the interval half-open.
    per_unique = np.minimum(per_unique, np.nextafter(1.0, 0.0))
    return per_unique[codes]


def unit_bucket(unit: str, salt: str) -> float:
    """One unit's bucket, the same number :func:`unit_buckets` gives it (the gateway's per-request
    form: no numpy, no pandas).

    >>> unit_bucket("u1", "exp-1") == float(unit_buckets(["u1"], "exp-1")[0])
    True
    """
    value = int.from_bytes(hashlib.sha256(f"{salt}\x1f{unit}".encode()).digest()[:8], "big") / _SCALE
    return min(value, _BELOW_ONE)


def assign(units, salt: str, split: float = 0.5) -> np.ndarray:
    """Bool per unit: True = candidate arm (a ``split`` share of units), False = control."""
    check_split(split)
    return unit_buckets(units, salt) < split


def rollout_buckets(units, salt: str) -> np.ndarray:
    """Independent buckets ordering units for the staged rollout."""
    return unit_buckets(units, f"{salt}/rollout")


def check_split(split: float) -> None:
    if not (0.0 < float(split) < 1.0):
        raise InputError(f"Traffic split must be strictly between 0 and 1 (the candidate's share); "
                         f"got {split}")


def unit_ids(items: pd.DataFrame, unit_column: str | None) -> np.ndarray:
    """The unit of assignment per item: a metadata column (e.g. a user id) or the item id."""
    if not unit_column or unit_column == "item_id":
        return items["item_id"].astype(str).to_numpy(dtype=object)
    if unit_column not in items:
        raise InputError(f"Unit column '{unit_column}' is not in the eval set; its columns are "
                         f"{', '.join(map(str, items.columns))}")
    col = items[unit_column]
    missing = col.isna() | (col.astype(str).str.strip() == "")
    if missing.any():
        first = int(np.flatnonzero(missing.to_numpy())[0])
        raise InputError(f"Unit column '{unit_column}' is empty on {int(missing.sum())} item(s) "
                         f"(first: item {items['item_id'].iloc[first]}); every item needs a unit")
    return col.astype(str).to_numpy(dtype=object)

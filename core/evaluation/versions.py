"""What makes two eval sets the same items: the items' content hash.

A stored eval set is a version: its file's SHA-256 (``digest``, when it came from a file), its
upload time (``created_at``), its parent (the newest earlier set stored under the same name:
``parent_id``) and the hash of its items (``items_digest``, below). Two versions with one items
hash ask the same questions (their answers may differ: a re-run, a re-scored file); the
regression gate (:mod:`core.routing.gate`) compares a policy with its baseline only on them.

>>> from core.evaluation.evalset import EvalSet
>>> a = EvalSet.from_arrays("a.csv", ["m"], score=np.array([[1.0], [0.0]]))
>>> b = EvalSet.from_arrays("b.csv", ["m"], score=np.array([[0.0], [0.0]]))  # other answers
>>> items_digest(a) == items_digest(b), len(items_digest(a))
(True, 64)
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

from core.evaluation.evalset import ITEM_COLUMNS, EvalSet


def items_digest(evalset: EvalSet) -> str:
    """SHA-256 of the items (id, input, task, label, reference), in item-id order: the file's
    row order, its model columns, answers, scores and costs do not change it; a changed input,
    label or reference, an added or dropped item do. Column by column (C-speed JSON)."""
    items = evalset.items
    order = np.argsort(items["item_id"].astype(str).to_numpy(), kind="stable")
    columns = [items[c].astype("string").to_numpy(dtype=object, na_value=None)[order].tolist()
               if c in items else None for c in ITEM_COLUMNS]
    return hashlib.sha256(json.dumps(columns, ensure_ascii=False).encode("utf-8")).hexdigest()


def short(digest: str | None) -> str:
    """The first 12 hex digits, as messages and labels show a hash.

    >>> short("0123456789abcdef"), short(None)
    ('0123456789ab', 'unknown')
    """
    return digest[:12] if isinstance(digest, str) and digest else "unknown"

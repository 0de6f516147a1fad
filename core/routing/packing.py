"""Numbers of a fitted policy as plain JSON: arrays packed as base64 of their little-endian bytes.

A saved policy must rebuild exactly what was fitted (never a pickle: a pickle in a downloaded file
would run code when loaded). Large arrays (a kNN's stored vectors, a TF-IDF model's weights) are
packed; fitted objects keep the packed dtype in memory too, so a reloaded policy computes with the
same bits as the fitted one.

>>> a = np.array([[1.5, -2.0], [0.25, 3.0]], dtype=np.float32)
>>> packed = pack(a)
>>> sorted(packed), packed["dtype"], packed["shape"]
(['b64', 'dtype', 'shape'], 'float32', [2, 2])
>>> bool(np.array_equal(unpack(packed), a))
True
"""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import numpy as np

from core.exports import json_safe

DTYPES = ("float64", "float32", "float16", "int64", "int32", "int8", "uint8", "bool")


def pack(array) -> dict[str, Any]:
    """``{"dtype", "shape", "b64"}`` for a numeric array (little-endian)."""
    a = np.asarray(array)
    if a.dtype.name not in DTYPES:
        raise TypeError(f"cannot pack an array of dtype {a.dtype}")
    data = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    return {"dtype": a.dtype.name, "shape": list(a.shape), "b64": base64.b64encode(data).decode("ascii")}


def unpack(packed: dict[str, Any]) -> np.ndarray:
    """The array :func:`pack` packed (read-only is not enforced; callers do not write to it)."""
    if not isinstance(packed, dict) or packed.get("dtype") not in DTYPES:
        raise ValueError(f"not a packed array: {str(packed)[:60]!r}")
    dtype = np.dtype(packed["dtype"]).newbyteorder("<")
    flat = np.frombuffer(base64.b64decode(packed["b64"]), dtype=dtype)
    shape = tuple(int(x) for x in packed["shape"])
    if int(np.prod(shape)) != flat.size:
        raise ValueError(f"packed array of shape {shape} holds {flat.size} values")
    return flat.reshape(shape).astype(np.dtype(packed["dtype"]), copy=True)


def is_packed(value) -> bool:
    return isinstance(value, dict) and set(value) == {"dtype", "shape", "b64"}


def digest(body: dict[str, Any]) -> str:
    """sha256 of a fitted body as it reads back from JSON (NaN as null, numpy scalars as plain
    numbers), so a saved, stored or deployed copy checks against the digest it was written with.

    >>> digest({"auc": float("nan"), "helps": np.bool_(True)}) == digest({"auc": None, "helps": True})
    True
    """
    return hashlib.sha256(json.dumps(json_safe(body), sort_keys=True).encode()).hexdigest()

"""Reads of small tables that are repeated only when a table they read has changed.

:func:`cached_read` keys a result by the caller's key (the query and its parameters) and the
versions of the tables it reads (:meth:`core.workspace.Workspace.table_versions`: one catalog
query, ~1.3 ms of CPU, against 10-40 ms for reading any DuckLake table). The versions are read
*before* the data, so a change committed by any process while the data is read only makes the
next call read again; a result is never returned for versions other than those it was read at.
Callers get their own copy (a cached frame or dict cannot be changed under another caller)::

    rows = cached_read(ws, ("gateway_keys",), "keys.table",
                       lambda: ws.cursor().execute("select * from gateway_keys").fetchall())

For control tables read again and again (keys, budgets, deployments, price edits, live
experiments), not for the ledger, which changes with every batch of calls.
"""
from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")
_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
MAX_ENTRIES = 256  # per workspace: keys with times in them (windows) come and go


def cached_read(ws, tables: Sequence[str], key: Hashable, read: Callable[[], T]) -> T:
    """``read()``'s result, read again only when one of ``tables`` changed since it was read."""
    versions = ws.table_versions(tables)
    token = tuple(versions[t] for t in tables)
    with _LOCK:
        cache = _CACHES.setdefault(ws, {})
        hit = cache.get(key)
    if hit is not None and hit[0] == token:
        return copy.deepcopy(hit[1])
    value = read()
    with _LOCK:
        cache.pop(key, None)
        cache[key] = (token, value)
        while len(cache) > MAX_ENTRIES:  # the oldest written goes first
            cache.pop(next(iter(cache)))
    return copy.deepcopy(value)


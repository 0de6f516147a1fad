"""The one rule of the routing registries: an entry is a class, or ``"module:Name"`` imported on
first use (so a heavy strategy, such as the learned router, costs nothing until it is asked for).

    >>> table = {"dict": "collections:OrderedDict"}
    >>> registered(table, "dict", "thing", "things").__name__, table["dict"].__name__
    ('OrderedDict', 'OrderedDict')
    >>> registered(table, "list", "thing", "things")
    Traceback (most recent call last):
    core.errors.InputError: Unknown thing 'list': known things are dict
"""
from __future__ import annotations

import importlib

from core.errors import InputError


def registered(table: dict, kind: str, what: str, known: str) -> type:
    """The class ``table`` registers for ``kind`` (a lazy entry imported and kept on first use);
    an unknown kind is refused naming ``what`` and the ``known`` kinds."""
    entry = table.get(kind)
    if entry is None:
        raise InputError(f"Unknown {what} '{kind}': known {known} are {', '.join(sorted(table))}")
    if isinstance(entry, str):
        module, name = entry.split(":")
        entry = getattr(importlib.import_module(module), name)
        table[kind] = entry
    return entry

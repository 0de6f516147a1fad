"""Which DuckDB errors mean "the store cannot be used now", and what to tell the person.

Pages and the CLI call :func:`store_fault_message` on an unexpected ``duckdb.Error``: a message
means the store itself failed (catalog server down, disk full, lock held too long, files
missing) and is shown instead of a traceback (the CLI exits 3); ``None`` means a bug.

>>> store_fault_message(RuntimeError("x")) is None
True
>>> print(store_fault_message(duckdb.IOException('IO Error: Failed to query most recent snapshot '
...       'for DuckLake: Unable to connect to Postgres at "host=db password=pw": refused')))
The store's catalog cannot be reached (IO Error: Failed to query most recent snapshot for DuckLake: Unable to connect to Postgres at "host=db password=***": refused). Nothing was written by this request; check that the PostgreSQL server of TRADEOFF_STORE is running and reachable, then try again.
"""
from __future__ import annotations

import duckdb

from core.errors import register_store_describer
from core.workspace.location import Location, redact

UNREACHABLE = ("Unable to connect to Postgres", "could not connect to server", "Connection refused",
               "server closed the connection", "terminating connection", "connection to server",
               "Failed to query most recent snapshot", "no connection to the server",
               "timeout expired")
BUSY = ("database is locked", "database table is locked", "Transaction conflict")
DISK = ("disk I/O error", "unable to open database file", "No space left on device",
        "Read-only file system", "Permission denied", "Cannot open file", "database disk image is malformed")


def store_fault_message(exc: BaseException, location: Location | None = None) -> str | None:
    """A one-paragraph message when ``exc`` is a store fault, else ``None``."""
    if not isinstance(exc, duckdb.Error):
        return None
    text = str(exc)
    first = text.splitlines()[0][:300] if text else type(exc).__name__
    first = redact(first, location) if location is not None else redact(first, _NO_LOCATION)
    where = f" {location.label}" if location is not None else ""
    if any(m in text for m in UNREACHABLE):
        return (f"The store{where}'s catalog cannot be reached ({first}). Nothing was written by "
                "this request; check that the PostgreSQL server of TRADEOFF_STORE is running and "
                "reachable, then try again.")
    if any(m in text for m in BUSY):
        return (f"The store{where} stayed busy with other writers ({first}). Nothing was written "
                "by this request; try again in a moment.")
    if any(m in text for m in DISK):
        return (f"The store{where} cannot read or write its files ({first}). Check the disk (space, "
                "permissions, the workspace directory still in place); nothing already stored "
                "was changed.")
    return None


_NO_LOCATION = Location(kind="embedded", label="", key="")

register_store_describer(store_fault_message)  # core.errors.describe words store faults this way

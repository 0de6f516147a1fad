"""Gateway keys: who may call the gateway, stored hashed, shown once.

A key reads ``tk-<key id>-<secret>``. The store keeps its id, name, a random per-key salt and
``sha256(salt + key)``; never the key. :func:`create_key` returns the key once (the console and
the CLI show it then and never again). Once a workspace has a key (revoked ones included), every
gateway request must send an active one as ``Authorization: Bearer <key>`` (what the OpenAI
client sends as its ``api_key``); otherwise a 401 in OpenAI's error format. The ledger tags
each call with ``key:<key id>``, never the key.

>>> table = {"k1": {"name": "app", "salt": "00", "hash": hash_key("00", "tk-k1-s3cret")}}
>>> verify("tk-k1-s3cret", table), verify("tk-k1-wrong", table), verify("nope", table)
('k1', None, None)

Tables use only the SQL every store of the product supports (no keys, sequences or upserts;
a revocation is a delete and an insert in one ``Workspace.write``, under the ``gateway_keys``
lock row like a creation, so names stay unique across processes).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from core.errors import InputError
from core.workspace import Workspace
from core.workspace.readcache import cached_read
from core.workspace.retire import active_name_taken, retire

PREFIX = "tk-"
MIGRATIONS = [
    """
    create table gateway_keys (
        key_id varchar not null,        -- public part of the key (tk-<key_id>-...)
        name varchar not null,          -- for people: the app or team using it
        salt varchar not null,          -- random, per key
        key_hash varchar not null,      -- sha256(salt + key), hex
        created_at timestamp not null,
        revoked_at timestamp            -- NULL: active
    );
    insert into store_locks values ('gateway_keys', 0);
    """,
]


def ensure_keys(ws: Workspace) -> None:
    ws.ensure("gateway_keys", MIGRATIONS)


def hash_key(salt: str, key: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + key.encode()).hexdigest()


def key_id_of(key: str) -> str | None:
    """The id a presented key claims (None when it is not shaped like a gateway key)."""
    if not key.startswith(PREFIX):
        return None
    key_id, sep, _ = key[len(PREFIX):].partition("-")
    return key_id if sep and key_id else None


def verify(key: str, table: dict[str, dict[str, Any]]) -> str | None:
    """The id of the active key ``key`` is, or None. ``table``: key id -> {salt, hash}."""
    key_id = key_id_of(key or "")
    entry = table.get(key_id) if key_id else None
    if entry is None:
        return None
    return key_id if hmac.compare_digest(hash_key(entry["salt"], key), entry["hash"]) else None


def create_key(ws: Workspace, name: str) -> dict[str, str]:
    """A new key: ``{key_id, name, key}``. The key is in this answer only."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise InputError("Key name: expected 1 to 80 characters (the app or team that will use it)")
    ensure_keys(ws)
    key_id, salt = secrets.token_hex(4), secrets.token_hex(16)
    key = f"{PREFIX}{key_id}-{secrets.token_urlsafe(24)}"
    def body(cur):
        ws.bump(cur, "gateway_keys")
        if active_name_taken(cur, "gateway_keys", "revoked_at", name):
            raise InputError(f"Key name '{name}' is taken by an active key: revoke it first or choose another name")
        if cur.execute("select count(*) from gateway_keys where key_id = ?", [key_id]).fetchone()[0]:
            raise InputError("Key id collision: try again")  # 1 in 4 billion per existing key
        cur.execute("insert into gateway_keys values (?, ?, ?, ?, ?, NULL)",
                    [key_id, name, salt, hash_key(salt, key), datetime.now(UTC).replace(tzinfo=None)])

    ws.write(body)
    return {"key_id": key_id, "name": name, "key": key}


def revoke_key(ws: Workspace, ref: str) -> bool:
    """Revoke the active key with this id or name; False when there is none."""
    ensure_keys(ws)
    return retire(ws, "gateway_keys", id_column="key_id", end_column="revoked_at", ref=ref)


def list_keys(ws: Workspace) -> pd.DataFrame:
    """key_id, name, created_at, revoked_at, active; newest first (no salt, no hash)."""
    ensure_keys(ws)
    return ws.cursor().execute(
        "select key_id, name, created_at, revoked_at, revoked_at is null as active "
        "from gateway_keys order by created_at desc").df()


def key_table(ws: Workspace) -> tuple[bool, dict[str, dict[str, str]]]:
    """(keys required, active key id -> {name, salt, hash}) as workers check them."""
    ensure_keys(ws)
    rows = cached_read(ws, ("gateway_keys",), "apikeys.key_table", lambda: ws.cursor().execute(
        "select key_id, name, salt, key_hash, revoked_at is null from gateway_keys").fetchall())
    return bool(rows), {k: {"name": n, "salt": s, "hash": h} for k, n, s, h, active in rows if active}


def resolve_key_ref(ws: Workspace, ref: str) -> str:
    """A key id from an id or the name of a key (active first)."""
    ensure_keys(ws)
    row = ws.cursor().execute("select key_id from gateway_keys where key_id = ? or name = ? "
                              "order by revoked_at is null desc, created_at desc limit 1",
                              [ref, ref]).fetchone()
    if row is None:
        raise InputError(f"No gateway key '{ref}': see `python -m core keys list`")
    return row[0]

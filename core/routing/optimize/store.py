"""Saved routing policies in the workspace: the JSON of a policy plus what is known about it.

>>> from core.routing.policies import Cascade
>>> pid = save_policy(ws, "support cascade", Cascade(["small", "big"], [0.7]),
...                   meta={"goal": "match:big", "validation": {"quality": 0.91}})
>>> list_policies(ws)[["id", "name", "kind", "held_out_quality"]]
   id             name     kind  held_out_quality
0   1  support cascade  cascade              0.91
>>> load_policy(ws, pid)[0]
Cascade(['small', 'big'], [0.7], 'confidence')

``policy_json(policy, meta)`` is the downloadable file; ``python -m core score FILE TEST.csv``
reads it (the same layout ``python -m core fit`` writes: ``{"format", "policy", ...meta}``).
"""
from __future__ import annotations

import json
from typing import Any

import pandas as pd

from core.errors import InputError
from core.exports import json_safe
from core.routing.optimize.policy_file import POLICY_FILE_FORMAT
from core.routing.policies import Policy, policy_from_dict
from core.workspace import Workspace
from core.workspace.readcache import cached_read

MIGRATIONS = [
    # v1, the DuckLake baseline: ids come from the 'policies' lock row (Workspace.next_id)
    """
    create table policies (
        id integer not null,
        name varchar not null,
        kind varchar not null,
        models varchar not null,          -- comma-separated, for listing
        spec_json varchar not null,       -- policy.to_dict()
        meta_json varchar not null,       -- goal, validation figures, fitted_on...
        created_at timestamp not null default current_timestamp
    );
    insert into store_locks values ('policies', 0);
    """,
]


def _ensure(ws: Workspace) -> None:
    ws.ensure("policies", MIGRATIONS)


def save_policy(ws: Workspace, name: str, policy: Policy, meta: dict[str, Any] | None = None) -> int:
    """Store ``policy`` under ``name``; returns its id. Nothing is stored if it cannot be saved."""
    name = (name or "").strip()
    if not name:
        raise InputError("A saved policy needs a name")
    try:
        spec = policy.to_dict()
    except TypeError as exc:
        raise InputError(str(exc)) from None
    policy_from_dict(spec)  # what cannot be read back is never stored
    _ensure(ws)
    def body(cur) -> int:
        policy_id = ws.next_id(cur, "policies", "policies")
        cur.execute(
            "insert into policies (id, name, kind, models, spec_json, meta_json) values (?, ?, ?, ?, ?, ?)",
            [policy_id, name, spec.get("kind", "policy"), ", ".join(policy.models_called()),
             json.dumps(json_safe(spec)), json.dumps(json_safe(dict(meta or {})))])
        return policy_id

    return int(ws.write(body))


def list_policies(ws: Workspace) -> pd.DataFrame:
    """Saved policies, newest first: id, name, kind, models, goal, held-out quality and cost."""
    _ensure(ws)
    frame = cached_read(ws, ("policies",), "policies.list", lambda: ws.cursor().execute(
        "select id, name, kind, models, created_at, meta_json from policies order by id desc").df())
    metas = [json.loads(m) for m in frame.pop("meta_json")] if len(frame) else []
    frame["goal"] = [m.get("goal") for m in metas]
    frame["held_out_quality"] = [(m.get("validation") or {}).get("quality") for m in metas]
    frame["held_out_cost_per_item"] = [(m.get("validation") or {}).get("cost_per_item") for m in metas]
    return frame


def load_policy(ws: Workspace, policy_id: int) -> tuple[Policy, dict[str, Any]]:
    """The saved policy (rebuilt from its JSON) and its metadata (with ``name`` and ``id``)."""
    _ensure(ws)
    row = ws.cursor().execute(
        "select name, spec_json, meta_json, created_at from policies where id = ?", [int(policy_id)]
    ).fetchone()
    if row is None:
        raise InputError(f"No saved policy with id {policy_id}")
    name, spec, meta, created = row
    meta = json.loads(meta)
    meta.update({"id": int(policy_id), "name": name, "saved_at": str(created)})
    return policy_from_dict(json.loads(spec)), meta


def policy_json(policy: Policy, meta: dict[str, Any] | None = None) -> str:
    """The downloadable policy file: ``{"format", "policy", **meta}`` as indented JSON."""
    body = {"format": POLICY_FILE_FORMAT, **{k: v for k, v in (meta or {}).items()
                                             if k not in ("format", "policy")},
            "policy": policy.to_dict()}
    return json.dumps(json_safe(body), indent=2)

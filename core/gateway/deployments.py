"""What the gateway serves: deployed policies in the workspace, hot-reloaded by running workers.

A deployment puts a policy under a name; clients call it as ``tradeoff/NAME``. Each deploy
appends a row (``revision`` 1, 2, ... per name), so the history stays and running workers notice
a change by polling :func:`deployments_version`. Undeploying appends a row without a policy::

    deploy(ws, "support", saved_policy_id=7)             # the console's Gateway page calls this
    deploy_policy(ws, "support", policy, source="file support.json")    # serve --policy FILE
    current_deployments(ws)["support"]["revision"]        # 1, then 2 after the next deploy
    undeploy(ws, "support")

The table uses only the SQL every store of the product supports (no keys, sequences, upserts or
indexes): application-made ids (uuid) and appends, each under the ``gateway_deployments`` lock
row, so two deploys of one name at once get revisions 1 and 2.

>>> from core.routing.policies import SingleModel
>>> deploy_policy(ws, "fast", SingleModel("openai:gpt-4o-mini"), source="doctest")["revision"]
1
>>> sorted(current_deployments(ws))
['fast']
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import InputError
from core.exports import json_safe
from core.gateway.executors import LiveOptions, NotDeployable, executor_for
from core.routing.optimize.store import list_policies, load_policy
from core.routing.policies import Policy, policy_from_dict
from core.workspace import Workspace
from core.workspace.readcache import cached_read

MIGRATIONS = [
    """
    create table gateway_deployments (
        deployment_id varchar not null,     -- uuid made by the application
        name varchar not null,              -- clients call tradeoff/NAME
        revision integer not null,          -- 1, 2, ... per name
        policy_id integer,                  -- the saved policy deployed (NULL: from a file)
        source varchar not null,            -- where it came from, for people
        spec_json varchar,                  -- policy.to_dict(); NULL: undeployed
        options_json varchar not null,      -- LiveOptions
        deployed_at timestamp not null
    );
    insert into store_locks values ('gateway_deployments', 0);
    """,
]
PREFIX = "tradeoff/"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def ensure_deployments(ws: Workspace) -> None:
    ws.ensure("gateway_deployments", MIGRATIONS)


def slug(name: str) -> str:
    """A deployment name from any text (a saved policy's name, a file stem).

    >>> slug("Support cascade (v2)")
    'support-cascade-v2'
    """
    return re.sub(r"[^a-z0-9._-]+", "-", str(name).strip().lower()).strip("-.")[:80]


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME.match(name):
        raise InputError(f"Deployment name '{name}': use letters, digits, '.', '_' or '-' "
                         f"(at most 80, starting with a letter or digit); clients call {PREFIX}NAME")
    return name


def deploy_policy(ws: Workspace, name: str, policy: Policy, *, source: str,
                  policy_id: int | None = None, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Deploy ``policy`` under ``name`` (a new revision); NotDeployable says why it cannot serve."""
    name = check_name(name)
    live = LiveOptions.from_dict(options)
    executor_for(policy, live)  # what cannot serve is never deployed
    spec = json.dumps(json_safe(policy.to_dict()))
    ensure_deployments(ws)
    options_json = json.dumps({"confidence_source": live.confidence_source})

    def body(cur) -> int:
        ws.bump(cur, "gateway_deployments")
        revision = cur.execute("select coalesce(max(revision), 0) + 1 from gateway_deployments "
                               "where name = ?", [name]).fetchone()[0]
        row = [uuid.uuid4().hex, name, int(revision), policy_id, str(source), spec, options_json,
               datetime.now(UTC).replace(tzinfo=None)]
        cur.execute("insert into gateway_deployments values (?, ?, ?, ?, ?, ?, ?, ?)", row)
        return int(revision)

    revision = ws.write(body)
    return {"name": name, "revision": int(revision), "source": str(source), "policy_id": policy_id}


def deploy(ws: Workspace, name: str, saved_policy_id: int, *,
           confidence_source: str = "stated") -> dict[str, Any]:
    """Deploy the saved policy ``saved_policy_id`` under ``name`` (the console's two clicks)."""
    policy, meta = load_policy(ws, saved_policy_id)
    return deploy_policy(ws, name, policy, source=f"saved policy {saved_policy_id} ({meta['name']})",
                         policy_id=int(saved_policy_id),
                         options={"confidence_source": confidence_source})


def undeploy(ws: Workspace, name: str) -> bool:
    """Stop serving ``name``; False when it was not deployed."""
    if name not in current_deployments(ws):
        return False

    def body(cur) -> None:
        ws.bump(cur, "gateway_deployments")
        revision = cur.execute("select max(revision) + 1 from gateway_deployments where name = ?",
                               [name]).fetchone()[0]
        cur.execute("insert into gateway_deployments values (?, ?, ?, NULL, 'undeployed', NULL, '{}', ?)",
                    [uuid.uuid4().hex, name, int(revision), datetime.now(UTC).replace(tzinfo=None)])

    ws.write(body)
    return True


def deployments_version(ws: Workspace) -> str:
    """Changes whenever a deployment or a saved policy is added (what workers poll)."""
    ensure_deployments(ws)
    deployed = cached_read(ws, ("gateway_deployments",), "deployments.version", lambda: ws.cursor().execute(
        "select count(*), max(deployed_at) from gateway_deployments").fetchone())
    saved = list_policies(ws)
    return f"{deployed[0]}|{deployed[1]}|{len(saved)}|{saved['id'].max() if len(saved) else 0}"


def history(ws: Workspace) -> pd.DataFrame:
    """Every deploy and undeploy, newest first."""
    ensure_deployments(ws)
    return ws.cursor().execute(
        "select name, revision, policy_id, source, spec_json is not null as serving, deployed_at "
        "from gateway_deployments order by deployed_at desc, revision desc").df()


def current_deployments(ws: Workspace) -> dict[str, dict[str, Any]]:
    """name -> {spec, options, revision, source, policy_id, deployed_at} of what is served now."""
    ensure_deployments(ws)
    rows = cached_read(ws, ("gateway_deployments",), "deployments.current", lambda: ws.cursor().execute(
        "select name, revision, policy_id, source, spec_json, options_json, deployed_at from ("
        " select *, row_number() over (partition by name order by revision desc, deployed_at desc) as r"
        " from gateway_deployments) where r = 1 and spec_json is not null order by name").fetchall())
    return {name: {"spec": json.loads(spec), "options": json.loads(options), "revision": int(revision),
                   "source": source, "policy_id": policy_id, "deployed_at": str(at)}
            for name, revision, policy_id, source, spec, options, at in rows}


def saved_policies(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Saved policies by deployment name (their name as a slug; the newest of a name wins), for
    ``tradeoff/NAME`` naming a saved policy that was never deployed under that name."""
    return cached_read(ws, ("policies",), "deployments.saved_policies", lambda: _saved_policies(ws))


def _saved_policies(ws: Workspace) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    frame = list_policies(ws)
    for pid, name in zip(frame["id"], frame["name"]):  # newest first
        key = slug(name)
        if key and key not in out:
            policy, _ = load_policy(ws, int(pid))
            out[key] = {"spec": policy.to_dict(), "options": {}, "revision": f"saved-{int(pid)}",
                        "source": f"saved policy {int(pid)} ({name})", "policy_id": int(pid)}
    return json_safe(out)


def read_policy_file(path: str | Path) -> tuple[str, Policy, dict[str, Any]]:
    """``(name, policy, options)`` from a policy JSON file (``core fit``'s layout, the console's
    download, or a bare ``policy.to_dict()``); the name is the file's stem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"{path}: cannot read the policy file ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise InputError(f"{path}: not JSON ({exc})") from None
    spec = data.get("policy", data) if isinstance(data, dict) else data
    try:
        policy = policy_from_dict(spec)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None
    options = {"confidence_source": data.get("confidence_source", "stated")} if isinstance(data, dict) else {}
    try:
        executor_for(policy, LiveOptions.from_dict(options))
    except NotDeployable as exc:
        raise InputError(f"{path}: {exc}") from None
    name = path.stem if _NAME.match(path.stem) else slug(path.stem)
    return check_name(name), policy, options

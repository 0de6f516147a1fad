"""The gateway's engine as a library: run a saved policy in-process, sync or async.

::

    router = Router.from_policy("support-cascade")          # a deployed or saved policy's name,
    router = Router.from_policy("policy.json")              # a policy file, a saved policy id,
    router = Router.from_policy(Cascade([...], [0.7]))      # or a Policy
    result = router.complete([{"role": "user", "content": "Where is my parcel?"}],
                             task="support", team="care")
    result.text, result.models_tried, result.cost_usd       # '...', ['openai:...'], Decimal('0.0001')
    result = await router.acomplete(messages)                # the same, from async code

Calls go through the same thin HTTP path, retries, fallbacks and live signals as
``python -m core serve``; every provider request is written to the ledger (``source='gateway'``)
through the same spool, committed by a background thread (``ledger=False`` turns that off).
A provider failure after retries and fallbacks raises :class:`RouterError` (its ``status`` is
what the gateway would have answered).
"""
from __future__ import annotations

import asyncio
import atexit
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.gateway.calls import Caller, CallSettings
from core.gateway.engine import Completion, Engine
from core.gateway.errors import GatewayError
from core.gateway.request import parse_chat_request
from core.gateway.upstream import Upstream
from core.routing.policies import Policy, policy_from_dict


class RouterError(Exception):
    def __init__(self, err: GatewayError, completion: Completion | None = None):
        super().__init__(err.message)
        self.status = err.status
        self.completion = completion


@dataclass(frozen=True)
class RouterResult:
    text: str
    model: str  # the model whose answer was kept
    models_tried: list[str]
    cost_usd: Decimal | None  # exact; None when a model has no price
    usage: dict[str, Any]
    policy: str
    request_id: str
    completion: Completion


def _resolve(source, workspace) -> tuple[str, Policy, dict[str, Any]]:
    """(name, policy, options) from a Policy, a dict, a file path, a saved id or a name."""
    if isinstance(source, Policy):
        return source.kind, source, {}
    if isinstance(source, dict):
        return source.get("kind", "policy"), policy_from_dict(source.get("policy", source)), {}
    from core.gateway.deployments import current_deployments, read_policy_file, saved_policies, slug
    from core.routing.optimize.store import load_policy

    if isinstance(source, (str, Path)) and Path(source).suffix == ".json" and Path(source).exists():
        return read_policy_file(source)
    from core.workspace import open_workspace

    ws = open_workspace(workspace)
    if isinstance(source, int):
        policy, meta = load_policy(ws, source)
        return slug(meta["name"]) or str(source), policy, {}
    name = str(source).removeprefix("tradeoff/")
    found = current_deployments(ws).get(name) or saved_policies(ws).get(slug(name))
    if found is None:
        raise InputError(f"No deployed or saved policy named '{name}', and no such policy file")
    return name, policy_from_dict(found["spec"]), found.get("options") or {}


class Router:
    """One policy, served in-process (see the module docstring)."""

    def __init__(self, policy: Policy, *, name: str | None = None, workspace=None, ledger: bool = True,
                 keys: dict[str, str] | None = None, base_urls: dict[str, str] | None = None,
                 settings: CallSettings | None = None, confidence_source: str = "stated"):
        from core.pricing.catalog import Catalog

        self.name = name or policy.kind
        self.engine = Engine(Caller(Upstream(keys, base_urls), Catalog(), settings))
        self.target = self.engine.serve_policy(self.name, policy, revision="library",
                                               options={"confidence_source": confidence_source})
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._agent = None
        if ledger:
            from core.gateway.agent import StoreAgent
            from core.gateway.runtime import runtime_dir
            from core.gateway.sink import open_sink
            from core.workspace.location import resolve

            location = resolve(workspace)
            self.sink = open_sink(location.spool_dir)
            self._agent = StoreAgent(location, runtime_dir(location), poll_every=10**9).start()
        else:
            from core.gateway.sink import NullSink

            self.sink = NullSink()
        atexit.register(self.close)

    @classmethod
    def from_policy(cls, source, *, workspace=None, **kw) -> Router:
        """A router for a Policy, its dict, a policy file, a saved policy id, or the name of a
        deployed or saved policy in the workspace."""
        name, policy, options = _resolve(source, workspace)
        kw.setdefault("confidence_source", options.get("confidence_source", "stated"))
        return cls(policy, name=name, workspace=workspace, **kw)

    async def acomplete(self, messages, *, max_tokens: int | None = None,
                        temperature: float | None = None, task: str | None = None,
                        value: float | None = None, metadata: dict[str, Any] | None = None,
                        **tags: str) -> RouterResult:
        body: dict[str, Any] = {"model": "tradeoff/" + self.name, "messages": messages,
                                "metadata": dict(metadata or {})}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if temperature is not None:
            body["temperature"] = temperature
        headers = {f"x-tradeoff-{k}": str(v) for k, v in tags.items() if v is not None}
        if task is not None:
            headers["x-tradeoff-task"] = task
        if value is not None:
            headers["x-tradeoff-value"] = str(value)
        try:
            chat = parse_chat_request(body, headers)
        except GatewayError as err:
            raise RouterError(err) from None
        done = await self.engine.complete(chat, headers)
        rows = done.ledger_rows()
        if rows:
            self.sink.append(rows)
        if not done.ok:
            raise RouterError(done.error(), done)
        return RouterResult(done.answer.text, done.answer.model_id, done.models_tried(), done.cost,
                            done.usage(), self.target.label, done.request_id, done)

    def complete(self, messages, **kw) -> RouterResult:
        """:meth:`acomplete` from synchronous code (on the router's own event loop thread)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                            name="tradeoff-router")
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(self.acomplete(messages, **kw), self._loop).result()

    async def aclose(self) -> None:
        """Release the connections opened on the running event loop (after async use)."""
        await self.engine.caller.upstream.aclose()

    def close(self) -> None:
        """Release connections and commit what the ledger has not got yet."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self.engine.caller.upstream.aclose(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop = None
        self.sink.close()
        if self._agent is not None:
            self._agent.stop(drain_s=5)
            self._agent = None

"""The gateway's engine: resolve the ``model`` field, admit, run the policy, account for it.

``model`` is ``tradeoff/NAME`` (a deployed policy, or a saved policy of that name) or
``PROVIDER:MODEL`` (that model directly). The engine holds the live executors of what is
deployed and reloads them when ``deployments.json`` changes (:mod:`core.gateway.agent` writes it
from the store), so a deploy reaches running workers without a restart::

    engine = Engine(Caller(Upstream(), catalog))
    engine.serve_policy("support", policy)          # or engine.reload_if_changed(runtime_dir)
    done = await engine.complete(chat)               # a Completion: answer, calls, cost
    done.ledger_rows()                               # one row per provider request
"""
from __future__ import annotations

import itertools
import logging
import os
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.gateway.admission import AdmissionRequest, AdmissionStep, Refuse, Swap
from core.gateway.calls import Caller
from core.gateway.errors import GatewayError
from core.gateway.executors import LiveExecutor, LiveOptions, SingleLive, executor_for
from core.gateway.request import ChatInput
from core.gateway.runtime import read_json, stamp
from core.gateway.turn import Answer, Turn
from core.live.providers import parse_model_id
from core.live.providers.base import ProviderError
from core.pricing.catalog import Catalog
from core.pricing.sources import ModelPrice, Tier
from core.routing.policies import SingleModel, policy_from_dict

log = logging.getLogger("tradeoff.gateway")
PREFIX = "tradeoff/"
SOURCE = "gateway"


@dataclass(frozen=True)
class Target:
    """What a ``model`` field resolved to."""

    model: str  # as the client wrote it
    executor: LiveExecutor
    policy: str | None = None  # deployment name; None for a direct PROVIDER:MODEL call
    revision: Any = None
    confidence_source: str = "stated"

    @property
    def label(self) -> str:
        return f"{self.policy}@{self.revision}" if self.policy else "-"


_ids = {"prefix": secrets.token_hex(6), "counter": itertools.count(1)}


def _new_id_prefix() -> None:  # a forked child must not repeat its parent's ids
    _ids.update(prefix=secrets.token_hex(6), counter=itertools.count(1))


os.register_at_fork(after_in_child=_new_id_prefix)


def new_request_id() -> str:
    """A request id unique across processes (random per process, renewed in a forked child)
    without a syscall per request (uuid4 reads the kernel's random source each time: a few
    percent of the gateway's CPU)."""
    return f"{_ids['prefix']}{next(_ids['counter']):010x}"


@dataclass
class Completion:
    """One request, answered or not: the answer kept and every provider call made for it."""

    chat: ChatInput
    target: Target
    turn: Turn
    answer: Answer | None
    request_id: str = field(default_factory=new_request_id)
    created: int = field(default_factory=lambda: int(time.time()))
    swapped_from: str | None = None
    failure: str | None = None  # an internal error after calls were made (they are still billed)
    arm: Any = None  # core.gateway.experiments.Arm when a live experiment chose the policy

    @property
    def ok(self) -> bool:
        return self.answer is not None and self.answer.ok

    @cached_property
    def attempts(self):
        """Every HTTP attempt (read once the request is done: the ledger, the metrics and the
        headers all ask)."""
        return [a for call in self.turn.calls for a in call.attempts]

    def models_tried(self) -> list[str]:
        return self.turn.models_tried()

    @cached_property
    def cost(self) -> Decimal | None:
        total = Decimal(0)
        for call in self.turn.calls:
            cost = call.cost
            if cost is None:
                return None
            total += cost
        return total

    def usage(self) -> dict[str, int]:
        attempts = self.attempts
        prompt = sum(a.input_tokens for a in attempts)
        completion = sum(a.output_tokens for a in attempts)
        return {"prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": sum(a.cached_read_tokens for a in attempts)}}

    def error(self) -> GatewayError:
        """Why no answer came back, for the client (after retries and fallbacks)."""
        if self.failure:
            return GatewayError(500, f"The gateway failed while answering: {self.failure}",
                                type="server_error", code="internal_error")
        err = self.answer.outcome.error if self.answer is not None else None
        return upstream_error(err, self.models_tried())

    def tags(self) -> str:
        tags = [f"{k}:{v}" for k, v in self.chat.tags.items()]
        if self.target.policy:
            tags += [f"policy:{self.target.policy}", f"policy_version:{self.target.revision}"]
        return ",".join(tags) or None

    def ledger_rows(self) -> list[dict[str, Any]]:
        """One ledger row per provider request (failed ones too: the ledger counts what the
        providers saw), tagged with the request's team/user/feature/environment and policy.
        ``eval_run`` is ``gw-<request id>`` on every row of the request and the call id
        ``gw-<request id>-<n>``: never the provider's request id (kept in ``request_id``), which
        OpenAI-compatible servers do not always make unique (one reused id would merge calls
        and lose them)."""
        tags, team, run = self.tags(), self.chat.tags.get("team"), f"gw-{self.request_id}"
        experiment, variant = (self.arm.experiment, self.arm.variant) if self.arm else (None, None)
        return [{"call_id": f"{run}-{i}", "eval_run": run, "ts": a.ts, "provider": a.provider,
                 "model": a.model, "task": self.chat.task, "input_tokens": a.input_tokens,
                 "cached_input_tokens": a.cached_read_tokens,
                 "cache_write_tokens": a.cached_write_tokens, "output_tokens": a.output_tokens,
                 "cost_usd": a.cost_usd, "latency_ms": round(a.latency_ms, 3), "status": a.status,
                 "cache_hit": False, "source": SOURCE, "request_id": a.request_id, "requests": 1,
                 "tags": tags, "project": team, "kind": "call",
                 "cost_basis": "unknown" if a.cost_usd is None else "catalog",
                 "experiment": experiment, "variant": variant}
                for i, a in enumerate(self.attempts)]

    def headers(self) -> dict[str, str]:
        cost = self.cost
        out = {"x-tradeoff-request-id": self.request_id,
               "x-tradeoff-models": ",".join(self.models_tried()),
               "x-tradeoff-cost-usd": "unknown" if cost is None else format(cost.normalize(), "f"),
               "x-tradeoff-policy": self.target.label}
        if self.ok:
            out["x-tradeoff-answered-by"] = self.answer.model_id
        if self.swapped_from:
            out["x-tradeoff-swapped-from"] = self.swapped_from
        if self.arm is not None:
            out["x-tradeoff-experiment"] = f"{self.arm.experiment}:{self.arm.variant}"
        return out


_UNAVAILABLE = {"rate_limited", "timeout", "circuit_open", "connection"}


def upstream_error(err: ProviderError | None, tried: list[str]) -> GatewayError:
    """A provider failure as the gateway's answer: 503 when retrying later may help (rate
    limits, timeouts, an open breaker, unreachable), 502 when the provider answered badly, the
    provider's own 400/404 when the request itself was refused."""
    where = f" (tried {', '.join(tried)})" if tried else ""
    if err is None:
        return GatewayError(502, "No provider answered" + where, type="upstream_error")
    text = f"{err.provider} {err.kind.replace('_', ' ')}: {err.message}{where}"
    if err.kind == "bad_request" and err.status == 404:
        return GatewayError(404, f"The provider does not know this model: {text}", param="model",
                            code="model_not_found")
    if err.kind == "bad_request":
        return GatewayError(400, f"The provider refused the request: {text}", code="upstream_bad_request")
    headers = {}
    if err.retry_after:
        headers["retry-after"] = str(max(1, round(err.retry_after)))
    if err.kind in _UNAVAILABLE or err.status in (503, 529):
        return GatewayError(503, f"Provider unavailable after retries and fallbacks: {text}",
                            type="upstream_unavailable", code=err.kind, headers=headers)
    if err.kind == "auth":
        text = f"{err.provider} refused the gateway's API key{where}: {err.message}"
    return GatewayError(502, f"Provider error after retries and fallbacks: {text}",
                        type="upstream_error", code=err.kind)


def catalog_with(prices: list[dict[str, Any]]) -> Catalog:
    """The shipped catalog plus a workspace's price edits as published in deployments.json."""
    edits = []
    for p in prices or []:
        p = dict(p)
        p["tiers"] = tuple(Tier(**t) for t in p.get("tiers") or ())
        p["aliases"] = tuple(p.get("aliases") or ())
        edits.append(ModelPrice(**p))
    return Catalog(tuple(edits))


class Engine:
    def __init__(self, caller: Caller, admission: list[AdmissionStep] | None = None):
        self.caller = caller
        self.admission: list[AdmissionStep] = list(admission or [])
        self.served: dict[str, Target] = {}
        self.broken: dict[str, str] = {}  # deployment -> why it cannot serve
        self.version: str | None = None
        self._stamp = None
        self._direct: OrderedDict[str, Target] = OrderedDict()
        self.experiments = None  # core.gateway.experiments.LiveExperiments (set by the Gateway)

    # -- what is served ---------------------------------------------------------------------
    def serve_policy(self, name: str, policy, revision: Any = "local",
                     options: dict[str, Any] | None = None) -> Target:
        live = LiveOptions.from_dict(options)
        target = Target(PREFIX + name, executor_for(policy, live), name, revision,
                        live.confidence_source)
        self.served[name] = target
        return target

    def reload_if_changed(self, runtime: Path) -> bool:
        """Reload deployments.json when it was replaced; True when something changed."""
        path = runtime / "deployments.json"
        current = stamp(path)
        if current is None or current == self._stamp:
            return False
        data = read_json(path)
        self._stamp = current
        if not data or data.get("version") == self.version:
            return False
        served, broken = {}, {}
        for name, entry in (data.get("deployments") or {}).items():
            try:
                policy = policy_from_dict(entry["spec"])
                live = LiveOptions.from_dict(entry.get("options"))
                served[name] = Target(PREFIX + name, executor_for(policy, live), name,
                                      entry.get("revision"), live.confidence_source)
            except (InputError, KeyError, TypeError, ValueError) as exc:
                broken[name] = str(exc)
                if not str(entry.get("revision", "")).startswith("saved-"):  # a real deployment
                    log.warning("deployment %s cannot serve: %s", name, exc)
        self.served, self.broken, self.version = served, broken, data.get("version")
        self.caller.catalog = catalog_with(data.get("prices") or [])
        self._direct.clear()
        return True

    def resolve(self, model: str) -> Target:
        if model.startswith(PREFIX):
            name = model[len(PREFIX):]
            target = self.served.get(name)
            if target is not None:
                return target
            if name in self.broken:
                raise GatewayError(404, f"The policy '{name}' is deployed but cannot serve: "
                                   f"{self.broken[name]}", param="model", code="model_not_found")
            known = ", ".join(PREFIX + n for n in sorted(self.served)) or "none"
            raise GatewayError.not_found(model, f"no policy is deployed under '{name}' (deployed: "
                                         f"{known}); deploy one with `python -m core serve --policy "
                                         "FILE` or from the console")
        target = self._direct.get(model)
        if target is not None:
            return target
        try:
            parse_model_id(model)
        except InputError as exc:
            raise GatewayError.not_found(model, f"{exc} Or name a deployed policy as {PREFIX}NAME.") from None
        target = Target(model, SingleLive(SingleModel(model)))
        self._direct[model] = target
        if len(self._direct) > 1000:
            self._direct.popitem(last=False)
        return target

    # -- a request --------------------------------------------------------------------------
    async def admit(self, chat: ChatInput, headers, target: Target) -> tuple[Target, str | None]:
        swapped = None
        for step in self.admission:
            decision = await step(AdmissionRequest(chat, headers, target))
            if isinstance(decision, Refuse):
                extra = {"retry-after": str(max(1, round(decision.retry_after_s)))} \
                    if decision.retry_after_s else {}
                raise GatewayError(decision.status, decision.message, type=decision.type,
                                   code=decision.code, headers={**extra, **(decision.headers or {})})
            if isinstance(decision, Swap):
                swapped = swapped or target.model
                target = self.resolve(decision.model)
        return target, swapped

    async def complete(self, chat: ChatInput, headers=None) -> Completion:
        """Run the request's policy; a Completion whether or not a provider answered
        (GatewayError only for what was refused before any call: unknown model, admission)."""
        target = self.resolve(chat.model)
        swapped, arm, request_id = None, None, new_request_id()
        if self.experiments is not None and self.experiments.by_route:
            arm = self.experiments.pick(target.policy, chat, headers, request_id)
            if arm is not None and arm.policy != target.policy:
                try:
                    target = self.resolve(PREFIX + arm.policy)
                except GatewayError:  # the arm's policy cannot serve: the route's own does
                    arm = None
        if self.admission:
            target, swapped = await self.admit(chat, headers or {}, target)
        done = await self._run(chat, target, request_id)
        done.swapped_from, done.arm = swapped, arm
        if self.experiments is not None:
            self.experiments.after(done, self)
        return done

    async def run_shadow(self, chat: ChatInput, target: Target, request_id: str) -> Completion:
        """The candidate on a served request, off the response path (its own request id)."""
        return await self._run(chat, target, f"{request_id}-shadow")

    async def _run(self, chat: ChatInput, target: Target, request_id: str) -> Completion:
        turn = Turn(chat, self.caller, target.confidence_source)
        try:
            answer = await target.executor.run(turn)
        except GatewayError as exc:  # e.g. a metadata value the policy cannot read
            if not turn.calls:
                raise
            return Completion(chat, target, turn, None, request_id, failure=exc.message)
        except Exception as exc:  # a defect must not lose the calls already paid for
            log.exception("policy %s failed", target.label)
            return Completion(chat, target, turn, None, request_id,
                              failure=f"{type(exc).__name__} in the {target.executor.kind} policy")
        return Completion(chat, target, turn, answer, request_id)

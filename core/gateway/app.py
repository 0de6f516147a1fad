"""The OpenAI-compatible HTTP server (uvicorn; Starlette for every route but the hot one).

=============================  ================================================================
``POST /v1/chat/completions``  a chat completion through a policy or a model (``stream: true``
                               answers as server-sent events); headers ``x-tradeoff-models``,
                               ``x-tradeoff-cost-usd``, ``x-tradeoff-policy``, ...
``GET /v1/models``             deployed policies (``tradeoff/NAME``) and known provider models
``GET /health``                the store's state, the ledger backlog, what is deployed
``GET /metrics``               Prometheus
=============================  ================================================================

``POST /v1/chat/completions`` is answered by a bare ASGI handler (:meth:`Gateway._chat_asgi`):
Starlette's middleware, routing and Response objects were about a tenth of a worker's CPU per
request (py-spy under wrk, 2026-12-02). Each answered request's ledger rows go to the sink
before the answer leaves (so a killed worker loses no call it answered); a background task
reloads deployments when they change.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.gateway import metrics
from core.gateway.admission import Refuse
from core.gateway.engine import PREFIX, Engine
from core.gateway.errors import GatewayError
from core.gateway.experiments import LiveExperiments
from core.gateway.guard import Guard
from core.gateway.request import parse_chat_request
from core.gateway.responses import completion_body, sse_events
from core.gateway.runtime import read_json
from core.gateway.sink import CallSink
from core.settings import PROVIDERS

log = logging.getLogger("tradeoff.gateway")
JSON = "application/json"
CHAT_PATH = "/v1/chat/completions"
_JSON_TYPE = (b"content-type", b"application/json")
_SSE_TYPE = (b"content-type", b"text/event-stream; charset=utf-8")
_PLAIN_500 = [(b"content-length", b"21"), (b"content-type", b"text/plain; charset=utf-8")]


class AsgiEndpoint:
    """An ASGI handler that Starlette's ``Route`` mounts as it is (a function or method would be
    wrapped as a request -> response handler)."""

    def __init__(self, handler):
        self.handler = handler

    async def __call__(self, scope, receive, send) -> None:
        await self.handler(scope, receive, send)


def json_response(data, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON, headers=headers)


def error_response(err: GatewayError, headers: dict[str, str] | None = None) -> Response:
    return json_response(err.body(), err.status, {**(headers or {}), **err.headers})


class Gateway:
    """The ASGI app around an :class:`Engine` and a :class:`CallSink`."""

    def __init__(self, engine: Engine, sink: CallSink, runtime: Path | None = None,
                 reload_s: float = 0.5, guard: Guard | None = None):
        self.engine = engine
        self.sink = sink
        self.guard = guard  # keys and budgets: the first admission step, told every request's cost
        if guard is not None and guard not in engine.admission:
            engine.admission.insert(0, guard)
        self.runtime = runtime
        self.reload_s = reload_s
        self.started = time.time()
        self._models_listing: list[dict] | None = None
        self.experiments = LiveExperiments(runtime, sink)
        engine.experiments = self.experiments
        self.app = Starlette(routes=[
            # POST never reaches Starlette (``__call__``); the route answers other methods 405
            Route(CHAT_PATH, AsgiEndpoint(self._chat_asgi), methods=["POST"]),
            Route("/v1/feedback", self.feedback, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/health", self.health, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ], lifespan=self.lifespan)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == CHAT_PATH and scope["method"] == "POST":
            await self._chat_asgi(scope, receive, send)  # the hot route, without Starlette's stack
            return
        await self.app(scope, receive, send)

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        if self.runtime is not None:
            self.engine.reload_if_changed(self.runtime)
            self.experiments.reload_if_changed()
        # Load the price data now, not on the first request (genai-prices takes a second).
        await asyncio.to_thread(self.engine.caller.catalog.price_for, "openai:gpt-4o-mini")
        task = asyncio.create_task(self._background())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.sink.close()
            self.experiments.close()
            with contextlib.suppress(Exception):
                await self.engine.caller.upstream.aclose()

    async def _background(self) -> None:
        last_reload = 0.0
        while True:
            await asyncio.sleep(0.25)
            try:
                await asyncio.to_thread(self.sink.tick)  # sealing fsyncs: off the event loop
                await asyncio.to_thread(self.experiments.tick)
                if self.guard is not None:
                    self.guard.reload_if_changed()
                if self.runtime is not None and time.monotonic() - last_reload >= self.reload_s:
                    last_reload = time.monotonic()
                    if self.engine.reload_if_changed(self.runtime):
                        self._models_listing = None
                        log.info("deployments reloaded: %s", ", ".join(sorted(self.engine.served)) or "none")
                    self.experiments.reload_if_changed()
            except Exception:
                log.exception("gateway background task failed")

    # -- routes -------------------------------------------------------------------------------
    async def _chat_asgi(self, scope, receive, send) -> None:
        """``POST /v1/chat/completions`` as a bare ASGI handler (no Starlette middleware, routing
        or Response objects), with Starlette's plain 500 on an unexpected failure."""
        started = False
        try:
            chunks, more = [], True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away before sending its body: nobody to answer
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            status, headers, body = await self.answer(
                chunks[0] if len(chunks) == 1 else b"".join(chunks), Headers(scope=scope))
            raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            if isinstance(body, bytes):
                raw.append((b"content-length", str(len(body)).encode()))
                raw.append(_JSON_TYPE)
                await send({"type": "http.response.start", "status": status, "headers": raw})
                started = True
                await send({"type": "http.response.body", "body": body})
                return
            raw.append(_SSE_TYPE)
            await send({"type": "http.response.start", "status": status, "headers": raw})
            started = True
            for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except Exception:
            log.exception("chat completion failed")
            if not started:
                await send({"type": "http.response.start", "status": 500, "headers": _PLAIN_500})
                await send({"type": "http.response.body", "body": b"Internal Server Error"})

    async def answer(self, raw: bytes, request_headers) -> tuple[int, dict[str, str], bytes | Iterator[bytes]]:
        """A chat completion request's answer: status, headers, and the JSON body (bytes) or
        the server-sent events (an iterator of bytes) of a streamed answer."""
        started = time.perf_counter()
        try:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise GatewayError(400, f"Invalid request: the body is not valid JSON ({exc})",
                                   code="invalid_json") from None
            chat = parse_chat_request(body, request_headers)
            done = await self.engine.complete(chat, request_headers)
        except GatewayError as err:
            metrics.refused(err.status)
            return err.status, err.headers, orjson.dumps(err.body())
        if self.guard is not None:
            self.guard.account(done)
        rows = done.ledger_rows()
        if rows:
            self.sink.append(rows)  # durable before the client hears anything
            metrics.spooled(len(rows))
        metrics.observe(done, time.perf_counter() - started)
        headers = done.headers()
        if not done.ok:
            err = done.error()
            return err.status, {**headers, **err.headers}, orjson.dumps(err.body())
        if chat.stream:
            headers["cache-control"] = "no-cache"
            return 200, headers, sse_events(done)
        return 200, headers, orjson.dumps(completion_body(done))

    async def feedback(self, request: Request) -> Response:
        """``POST /v1/feedback``: ``{"request_id": ID, "score": 0..1}`` (or ``"thumbs"``,
        ``"label"``); 200 when recorded, 404 for an id the gateway never served."""
        try:
            try:
                body = orjson.loads(await request.body())
            except orjson.JSONDecodeError as exc:
                raise GatewayError(400, f"Invalid feedback: the body is not valid JSON ({exc})",
                                   code="invalid_json") from None
            return json_response(await self.experiments.feedback(body))
        except GatewayError as err:
            return error_response(err)

    async def models(self, request: Request) -> Response:
        refused = self.guard.check_key(request.headers) if self.guard is not None else None
        if isinstance(refused, Refuse):
            return error_response(GatewayError(refused.status, refused.message, type=refused.type,
                                               code=refused.code))
        if self._models_listing is None:
            self._models_listing = self._listing()
        return json_response({"object": "list", "data": self._models_listing})

    def _listing(self) -> list[dict]:
        data = [{"id": PREFIX + name, "object": "model", "created": int(self.started),
                 "owned_by": "tradeoff", "policy_kind": t.executor.kind, "revision": t.revision,
                 "models": list(t.executor.models())}
                for name, t in sorted(self.engine.served.items())]
        seen = set()
        frame = self.engine.caller.catalog.frame()
        frame = frame[frame["in_effect"] & frame["provider"].isin(list(PROVIDERS))]
        for provider, model in zip(frame["provider"], frame["model"]):
            model_id = model if ":" in model else f"{provider}:{model}"
            if model_id not in seen:
                seen.add(model_id)
                data.append({"id": model_id, "object": "model", "created": int(self.started),
                             "owned_by": provider})
        return data

    async def health(self, request: Request) -> Response:
        status = (read_json(self.runtime / "status.json") if self.runtime is not None else None) or {}
        store = status.get("store", "unknown")
        backlog = {"segments": status.get("backlog_segments"), "bytes": status.get("backlog_bytes"),
                   "rows_committed": status.get("rows_committed"),
                   "last_commit": status.get("last_commit")}
        body = {"status": "ok" if store == "ok" else "degraded",
                "serving": True, "worker_pid": os.getpid(),
                "store": {"state": store, "error": status.get("store_error"),
                          "checked_at": status.get("checked_at")},
                "ledger_backlog": backlog,
                "spooled_rows_this_worker": getattr(self.sink, "rows_appended", None),
                "deployments": {"version": self.engine.version,
                                "serving": sorted(self.engine.served),
                                "cannot_serve": self.engine.broken},
                "guard": None if self.guard is None else self.guard.summary()}
        return json_response(body)

    async def metrics(self, request: Request) -> Response:
        data, content_type = metrics.exposition()
        return Response(data, media_type=content_type)

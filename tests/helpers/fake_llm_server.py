"""A local server on 127.0.0.1 that speaks the real wire formats of three LLM providers.

The official SDKs (``anthropic``, ``openai``, ``google-genai``) are pointed at it by base URL, so
tests exercise the real request building, response parsing and error handling of each SDK.

Routes (``base`` = ``http://127.0.0.1:PORT``):

=========================================================  ===========================================
``POST /v1/messages``                                      Anthropic Messages (x-api-key/Bearer)
``POST /v1/chat/completions``                              OpenAI Chat Completions (Bearer)
``POST /local/v1/chat/completions``                        an OpenAI-compatible local server (no key)
``POST /v1beta/models/{model}:generateContent``            Gemini (x-goog-api-key or ?key=); also
                                                           ``/v1/...``, google-genai 3.x's default
``GET /_fake/health``, ``GET /_fake/calls``,               control endpoints, for a server running
``POST /_fake/script``, ``/_fake/reset``, ``/_fake/config``  in another process
=========================================================  ===========================================

SDK base URLs: anthropic ``base``, openai ``base + "/v1"``, local ``base + "/local/v1"``,
gemini ``base`` (the SDK adds ``/v1beta``). :attr:`FakeLLMServer.base_urls` has them.

Behaviour, by model name (composable, e.g. ``small-q70-lat50ms``):

- ``-q<NN>``: the model answers correctly on NN% of prompts (deterministic per model and prompt);
  without it, always correctly. Wrong answers come with lower confidence.
- ``-lat<NN>ms``: that latency per call (else the server's ``latency`` seconds, default 0).
- ``always-429``, ``always-500``, ``always-503``, ``always-timeout``, ``always-malformed``,
  ``always-401``, ``always-400``: every call fails that way.
- ``flaky`` / ``flaky500``: the first call for each prompt fails with 429 / 500, later ones succeed.

or per request, with :meth:`FakeLLMServer.script` (rules consumed first-in first-out)::

    server.script("rate_limit", model="m", times=2, retry_after=0.05)

Kinds: ``ok``, ``rate_limit`` (429 + retry-after), ``server_error`` (500), ``overloaded`` (529 on
Anthropic, 503 elsewhere), ``timeout`` (hangs ``hang`` seconds, default 10), ``malformed`` (200 with
a broken JSON body), ``auth`` (the provider's real wrong-key error), ``bad_request`` (400).

Keys: a key is refused when it is empty or contains ``wrong`` or ``invalid``, or, when
``valid_keys[provider]`` is set, when it is not in it. The local route checks no key.

Judges (a system prompt that starts "You are an impartial judge", as :mod:`core.live.judge`
writes it) get a JSON verdict ``{"verdict": ..., "reason": ...}``: pointwise, ``pass`` when the
``<answer>`` equals the ``<reference>`` (case and outer spaces ignored; any non-empty answer
passes when there is no reference), else ``fail``; pairwise, ``A`` or ``B`` for the one of
``<answer_a>`` / ``<answer_b>`` that equals the reference, ``tie`` when both or neither do.
Judge model names compose too: ``-q<NN>`` gives the right verdict on NN% of questions (the
others flipped), ``-first`` always prefers the answer shown first (position bias),
``-garble<NN>`` replies with unreadable prose on NN% of questions. ``server.script_verdict``
scripts one verdict (and reason) for the next matching request.

Answers: the gold label is read from ``answer: X`` in the user text (so an eval set whose input
says ``... answer: B`` has known correctness); the candidate labels from a ``Labels: a | b | c``
line. The text comes back as JSON when JSON was asked for (OpenAI ``response_format``, Gemini
``responseMimeType``), as ``<label>..</label><confidence>..</confidence>`` when the prompt
mentions ``<label>``, else the bare label. ``server.answer_fn = f`` replaces all of that:
``f(parsed: Parsed) -> str`` gets provider, model, system, user, key, want_json and returns the text.

Every request is logged: ``server.calls`` (dicts with provider, model, prompt_hash, user, status),
``server.call_counts()`` -> Counter of (provider, model, prompt_hash).
``prompt_hash(text)`` is sha256 of the last user message's text, first 16 hex digits.

The wire formats themselves (bodies, status codes, headers) live in :mod:`tests.helpers.fake_llm_wire`.

Run standalone: ``python tests/helpers/fake_llm_server.py --port 8765 [--latency 0.1]``.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import math
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

try:  # imported as tests.helpers.fake_llm_server, or run as a script from anywhere
    from tests.helpers.fake_llm_wire import (
        ERRORS,
        SUCCESS,
        _anthropic_error,
        _anthropic_key,
        _gemini_error,
        _last_user,
        _openai_error,
        _text_of,
    )
except ImportError:
    from fake_llm_wire import (  # type: ignore
        ERRORS,
        SUCCESS,
        _anthropic_error,
        _anthropic_key,
        _gemini_error,
        _last_user,
        _openai_error,
        _text_of,
    )

PROVIDERS = ("anthropic", "openai", "local", "gemini")
KINDS = ("ok", "rate_limit", "server_error", "overloaded", "timeout", "malformed", "auth",
         "bad_request")
_MODEL_KINDS = {"always-429": "rate_limit", "always-500": "server_error",
                "always-503": "overloaded", "always-timeout": "timeout",
                "always-malformed": "malformed", "always-401": "auth", "always-400": "bad_request"}


def prompt_hash(user_text: str) -> str:
    """The key of the call log: ``prompt_hash("hi") == "8f434346648f6b96"``."""
    return hashlib.sha256(user_text.encode("utf-8")).hexdigest()[:16]


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: one token per 4 characters, at least 1."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _unit(*parts: str) -> float:
    """A deterministic number in [0, 1) from strings."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()
    return int(digest[:8], 16) / 16**8


@dataclass
class Rule:
    kind: str
    provider: str | None = None
    model: str | None = None
    contains: str | None = None
    times: int = 1  # how many matching requests it applies to; -1 = forever
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, provider: str, model: str, user: str) -> bool:
        return ((self.provider is None or self.provider == provider)
                and (self.model is None or self.model == model)
                and (self.contains is None or self.contains in user))


@dataclass
class Parsed:
    """What the server understood of one request, whatever the provider."""

    provider: str
    model: str
    system: str
    user: str
    key: str | None
    want_json: bool = False
    logprobs: bool = False
    top_logprobs: int = 0
    max_tokens: int | None = None
    temperature: float | None = None


def default_answer(model: str, system: str, user: str) -> tuple[str, float]:
    """The label a fake model gives and its confidence (see the module docstring)."""
    text = system + "\n" + user
    gold_match = re.search(r"answer\s*[:=]\s*([^\s,;]+)", user, re.IGNORECASE)
    labels: list[str] = []
    labels_match = re.search(r"(?im)^\s*(?:allowed\s+)?labels?\s*:\s*(.+)$", text)
    if labels_match:
        labels = [p.strip() for p in re.split(r"\s*[|,]\s*", labels_match.group(1)) if p.strip()]
    gold = gold_match.group(1).rstrip(".") if gold_match else (labels[0] if labels else "unknown")
    quality = re.search(r"-q(\d{1,3})(?![\d])", model)
    accuracy = int(quality.group(1)) if quality else 100
    u = _unit(model, user)
    if u * 100 < accuracy:
        return gold, round(0.75 + 0.2 * _unit("conf", model, user), 2)
    others = [lab for lab in labels if lab.lower() != gold.lower()]
    wrong = others[int(_unit("pick", model, user) * len(others))] if others else f"not-{gold}"
    return wrong, round(0.2 + 0.4 * _unit("conf", model, user), 2)


JUDGE_MARK = "You are an impartial judge"


def _between(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>\n?(.*?)\n?</{tag}>", text, re.DOTALL)
    return match.group(1).strip() if match else None


def _same(answer: str | None, reference: str | None) -> bool:
    if reference is None:
        return bool(answer)
    return (answer or "").strip().casefold() == reference.strip().casefold()


def judge_reply(model: str, user: str) -> str:
    """A fake judge's reply to a question written by core.live.judge (see the module docstring)."""
    garble = re.search(r"-garble(\d{1,3})", model)
    if garble and _unit("garble", model, user) * 100 < int(garble.group(1)):
        return "Both answers have merit, so I would rather not pick one."
    reference = _between(user, "reference")
    if "<answer_a>" in user:
        a_ok, b_ok = _same(_between(user, "answer_a"), reference), _same(_between(user, "answer_b"), reference)
        verdict = "A" if "-first" in model else "A" if a_ok and not b_ok else "B" if b_ok and not a_ok \
            else "tie"
    else:
        ok = _same(_between(user, "answer"), reference)
        quality = re.search(r"-q(\d{1,3})(?![\d])", model)
        if quality and _unit(model, user) * 100 >= int(quality.group(1)):
            ok = not ok
        verdict = "pass" if ok else "fail"
    return json.dumps({"verdict": verdict, "reason": f"fake judge: {verdict}"})


def render_answer(label: str, confidence: float, parsed: Parsed) -> str:
    if parsed.want_json:
        return json.dumps({"label": label, "confidence": confidence})
    if "<label>" in parsed.system or "<label>" in parsed.user:
        return f"<label>{label}</label>\n<confidence>{confidence}</confidence>"
    return label


class FakeLLMServer:
    """The server and its state. ``start()`` serves it from a background thread."""

    def __init__(self, latency: float = 0.0, hang: float = 10.0):
        self.latency = latency  # seconds added to every call
        self.hang = hang  # how long a "timeout" call sleeps before answering
        self.prompt_cache = False  # simulate prompt caching of repeated system prompts
        self.valid_keys: dict[str, set[str]] = {}
        self.answer_fn: Callable[[Parsed], str] | None = None
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._calls: list[dict[str, Any]] = []
        self._seen_prefix: set[tuple[str, str, str]] = set()
        self._flaky_seen: set[tuple[str, str, str]] = set()
        self._initial = (latency, hang)
        self.port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(routes=[
            Route("/v1/messages", self._anthropic, methods=["POST"]),
            Route("/v1/chat/completions", self._openai, methods=["POST"]),
            Route("/local/v1/chat/completions", self._local, methods=["POST"]),
            Route("/v1beta/models/{model:path}", self._gemini, methods=["POST"]),
            Route("/v1/models/{model:path}", self._gemini, methods=["POST"]),
            Route("/_fake/health", self._health, methods=["GET"]),
            Route("/_fake/calls", self._calls_endpoint, methods=["GET"]),
            Route("/_fake/script", self._script_endpoint, methods=["POST"]),
            Route("/_fake/reset", self._reset_endpoint, methods=["POST"]),
            Route("/_fake/config", self._config_endpoint, methods=["POST"]),
        ])

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeLLMServer:
        """Serve on 127.0.0.1:port (0 = a free port) from a daemon thread; returns self."""
        import socket

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        # log_config=None: leave the process's logging alone (uvicorn's default dictConfig binds
        # handlers to the stderr of the moment, which pytest closes before the server stops).
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, log_config=None,
                                timeout_graceful_shutdown=1, backlog=2048, lifespan="off")
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="fake-llm-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake LLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        # uvicorn logs "Finished server process" while shutting down; the shared server stops at
        # interpreter exit, after pytest has closed the streams, so that line would land as a
        # logging error after the test summary. Shutdown chatter is not worth a handler.
        loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error")]
        for logger in loggers:
            logger.disabled = True
        try:
            if self._server is not None:
                self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout=5)
        finally:
            for logger in loggers:
                logger.disabled = False
        self._server = self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_urls(self) -> dict[str, str]:
        """Base URLs to hand to each SDK (and to the *_BASE_URL environment variables)."""
        return {"anthropic": self.url, "openai": self.url + "/v1",
                "local": self.url + "/local/v1", "gemini": self.url}

    def env(self) -> dict[str, str]:
        """Environment variables pointing the app and ``python -m core run`` at this server."""
        return {"ANTHROPIC_BASE_URL": self.base_urls["anthropic"],
                "OPENAI_BASE_URL": self.base_urls["openai"],
                "GEMINI_BASE_URL": self.base_urls["gemini"],
                "LOCAL_BASE_URL": self.base_urls["local"],
                "ANTHROPIC_API_KEY": "sk-ant-fake-0123456789", "OPENAI_API_KEY": "sk-fake-0123456789",
                "GEMINI_API_KEY": "AIzaFake0123456789"}

    # ---- scripting and inspection ----------------------------------------------------------
    def script(self, kind: str, *, provider: str | None = None, model: str | None = None,
               contains: str | None = None, times: int = 1, **params: Any) -> None:
        """Make the next ``times`` matching requests behave as ``kind`` (-1: every one).

        params: ``retry_after`` (seconds, 429), ``latency`` (seconds), ``hang`` (timeout),
        ``text`` (ok: the exact answer text).
        """
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        if times == 0 or times < -1:
            raise ValueError("times must be a positive count, or -1 for every matching request")
        with self._lock:
            self._rules.append(Rule(kind, provider, model, contains, times, dict(params)))

    def script_verdict(self, verdict: str, reason: str = "scripted", *, times: int = 1,
                       **match: Any) -> None:
        """Make the next ``times`` matching judge requests reply with this verdict (``verdict``
        may also be any text, e.g. an unreadable reply, when ``reason`` is None)."""
        text = verdict if reason is None else json.dumps({"verdict": verdict, "reason": reason})
        self.script("ok", times=times, text=text, **match)

    def reset(self) -> None:
        """Forget calls, rules, caches and settings changed since construction."""
        initial_cache = getattr(self, "_initial_cache", False)
        with self._lock:
            self._rules.clear()
            self._calls.clear()
            self._seen_prefix.clear()
            self._flaky_seen.clear()
        (self.latency, self.hang), self.prompt_cache = self._initial, initial_cache
        self.valid_keys = {}
        self.answer_fn = None

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every request so far, oldest first (copies; ``status`` None while still in flight)."""
        with self._lock:
            return [dict(c) for c in self._calls]

    def call_counts(self, status: int | None = None) -> Counter:
        """Counter of (provider, model, prompt_hash); ``status`` filters (e.g. 200)."""
        return Counter((c["provider"], c["model"], c["prompt_hash"]) for c in self.calls
                       if status is None or c["status"] == status)

    def count(self, *, provider: str | None = None, model: str | None = None,
              contains: str | None = None, status: int | None = None) -> int:
        return sum(1 for c in self.calls
                   if (provider is None or c["provider"] == provider)
                   and (model is None or c["model"] == model)
                   and (contains is None or contains in c["user"])
                   and (status is None or c["status"] == status))

    # ---- request handling ------------------------------------------------------------------
    def _decide(self, parsed: Parsed) -> tuple[str, dict[str, Any]]:
        with self._lock:
            for i, rule in enumerate(self._rules):
                if rule.matches(parsed.provider, parsed.model, parsed.user):
                    if rule.times > 0:
                        rule.times -= 1
                        if rule.times == 0:
                            del self._rules[i]
                    return rule.kind, dict(rule.params)
            for token, kind in _MODEL_KINDS.items():
                if token in parsed.model:
                    return kind, {}
            flaky = re.search(r"flaky(500)?", parsed.model)
            if flaky:
                key = (parsed.provider, parsed.model, prompt_hash(parsed.user))
                if key not in self._flaky_seen:
                    self._flaky_seen.add(key)
                    return ("server_error" if flaky.group(1) else "rate_limit"), {"retry_after": 0.01}
        return "ok", {}

    def _key_ok(self, provider: str, key: str | None) -> bool:
        if provider == "local" and provider not in self.valid_keys:
            return True
        if provider in self.valid_keys:
            return key in self.valid_keys[provider]
        return bool(key) and "wrong" not in key.lower() and "invalid" not in key.lower()

    def _usage(self, parsed: Parsed, text: str) -> dict[str, int]:
        system_tokens = count_tokens(parsed.system)
        total_in = system_tokens + count_tokens(parsed.user) + 4
        read = write = 0
        if self.prompt_cache and system_tokens:
            prefix = (parsed.provider, parsed.model, prompt_hash(parsed.system))
            with self._lock:
                if prefix in self._seen_prefix:
                    read = system_tokens
                else:
                    self._seen_prefix.add(prefix)
                    write = system_tokens
        return {"input": total_in, "output": count_tokens(text), "read": read, "write": write}

    async def _handle(self, parsed: Parsed) -> Response:
        kind, params = self._decide(parsed)
        key_ok = self._key_ok(parsed.provider, parsed.key)
        if kind == "ok" and not key_ok:
            kind = "auth"
        # Logged on arrival (status None while in flight), so a call the client gave up on counts.
        record = {"provider": parsed.provider, "model": parsed.model,
                  "prompt_hash": prompt_hash(parsed.user), "user": parsed.user,
                  "kind": kind, "ts": time.time(), "status": None,
                  "want_json": parsed.want_json, "logprobs": parsed.logprobs,
                  "max_tokens": parsed.max_tokens, "temperature": parsed.temperature}
        with self._lock:
            self._calls.append(record)
        latency = params.get("latency")
        if latency is None:
            lat = re.search(r"-lat(\d+)ms", parsed.model)
            latency = int(lat.group(1)) / 1000 if lat else self.latency
        if latency:
            await asyncio.sleep(latency)
        if kind == "timeout":
            await asyncio.sleep(params.get("hang", self.hang))
            kind = "ok" if key_ok else "auth"
        response = self._respond(kind, params, parsed)
        with self._lock:
            record["status"] = response.status_code
        return response

    def _respond(self, kind: str, params: dict[str, Any], parsed: Parsed) -> Response:
        rid = uuid.uuid4().hex[:24]
        if kind == "malformed":
            return Response('{"id": "broken", "choices": [', status_code=200,
                            media_type="application/json")
        if kind != "ok":
            return ERRORS[parsed.provider](kind, params, parsed, rid)
        if "text" in params:
            text = params["text"]
            label, confidence = text, None
        elif self.answer_fn is not None:
            text = self.answer_fn(parsed)
            label, confidence = text, None
        elif parsed.system.startswith(JUDGE_MARK):
            text = judge_reply(parsed.model, parsed.user)
            label, confidence = text, None
        else:
            label, confidence = default_answer(parsed.model, parsed.system, parsed.user)
            text = render_answer(label, confidence, parsed)
        usage = self._usage(parsed, text)
        return SUCCESS[parsed.provider](text, label, confidence, usage, parsed, rid)

    async def _body(self, request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def _anthropic(self, request: Request) -> Response:
        body = await self._body(request)
        if body is None or "model" not in body:
            return _anthropic_error(400, "invalid_request_error", "messages: invalid JSON body")
        parsed = Parsed("anthropic", body["model"], _text_of(body.get("system")),
                        _last_user(body.get("messages", [])), _anthropic_key(request),
                        max_tokens=body.get("max_tokens"), temperature=body.get("temperature"))
        return await self._handle(parsed)

    async def _openai_like(self, request: Request, provider: str) -> Response:
        body = await self._body(request)
        if body is None or "model" not in body:
            return _openai_error(400, "We could not parse the JSON body of your request.",
                                 "invalid_request_error", None)
        auth = request.headers.get("authorization", "")
        key = auth[7:] if auth.lower().startswith("bearer ") else None
        messages = body.get("messages", [])
        system = "\n".join(_text_of(m.get("content")) for m in messages
                           if m.get("role") in ("system", "developer"))
        fmt = (body.get("response_format") or {}).get("type", "text")
        parsed = Parsed(provider, body["model"], system, _last_user(messages), key,
                        want_json=fmt in ("json_object", "json_schema"),
                        logprobs=bool(body.get("logprobs")),
                        top_logprobs=int(body.get("top_logprobs") or 0),
                        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
                        temperature=body.get("temperature"))
        return await self._handle(parsed)

    async def _openai(self, request: Request) -> Response:
        return await self._openai_like(request, "openai")

    async def _local(self, request: Request) -> Response:
        return await self._openai_like(request, "local")

    async def _gemini(self, request: Request) -> Response:
        target = request.path_params["model"]
        if not target.endswith(":generateContent"):
            return _gemini_error(404, "NOT_FOUND", f"Method not found: {target}")
        body = await self._body(request)
        if body is None:
            return _gemini_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        model = target[: -len(":generateContent")]
        model = model[len("models/"):] if model.startswith("models/") else model
        contents = body.get("contents", [])
        user_turns = [c for c in contents if c.get("role", "user") == "user"]
        user = "".join(p.get("text", "") for p in (user_turns[-1].get("parts", []) if user_turns else []))
        system = "".join(p.get("text", "") for p in (body.get("systemInstruction") or {}).get("parts", []))
        config = body.get("generationConfig") or {}
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        parsed = Parsed("gemini", model, system, user, key,
                        want_json=config.get("responseMimeType") == "application/json",
                        max_tokens=config.get("maxOutputTokens"), temperature=config.get("temperature"))
        return await self._handle(parsed)

    # ---- control endpoints (for a server in another process) ---------------------------------
    async def _health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "base_urls": self.base_urls})

    async def _calls_endpoint(self, request: Request) -> Response:
        return JSONResponse(self.calls)

    async def _script_endpoint(self, request: Request) -> Response:
        body = await self._body(request) or {}
        try:
            self.script(body.get("kind", ""), provider=body.get("provider"), model=body.get("model"),
                        contains=body.get("contains"), times=int(body.get("times", 1)),
                        **(body.get("params") or {}))
        except ValueError as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        return JSONResponse({"ok": True})

    async def _reset_endpoint(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _config_endpoint(self, request: Request) -> Response:
        body = await self._body(request) or {}
        if "latency" in body:
            self.latency = float(body["latency"])
        if "hang" in body:
            self.hang = float(body["hang"])
        if "prompt_cache" in body:
            self.prompt_cache = bool(body["prompt_cache"])
        if "valid_keys" in body:
            self.valid_keys = {p: set(v) for p, v in body["valid_keys"].items()}
        return JSONResponse({"ok": True})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per call")
    parser.add_argument("--prompt-cache", action="store_true")
    args = parser.parse_args(argv)
    server = FakeLLMServer(latency=args.latency)
    server.prompt_cache = server._initial_cache = args.prompt_cache
    server.start(args.port)
    print(json.dumps({"port": server.port, "base_urls": server.base_urls}), flush=True)
    try:
        while server._thread is not None and server._thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()

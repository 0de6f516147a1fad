"""The gateway's HTTP/1.1 client for provider calls: POST a JSON body, read the whole answer.

A pool of keep-alive connections per event loop, asyncio protocols and httptools' parser (the one
uvicorn serves with), one ``write`` per request. aiohttp spent 38% of a gateway worker's CPU per
proxied request (py-spy under wrk, 2026-12-02): cookies, tracing, multidicts, payload objects and
a timer object per request, none of which a provider call needs. This client does only what the
gateway asks of it::

    client = Client({"content-type": "application/json", "authorization": "Bearer ..."})
    reply = await client.post("https://api.openai.com/v1/chat/completions", body, timeout=60)
    reply.status, reply.headers["x-request-id"], reply.body
    await client.close()

* ``timeout`` bounds the whole exchange (connect, send, answer): :class:`TimeoutError`, and the
  connection is closed (its answer may still come).
* A connection that cannot be made, or drops before the answer is complete, or an answer that is
  not HTTP: :class:`HTTPError` (an ``OSError``, like the socket errors the connect raises). A
  request is never sent twice (a POST to a provider is billed).
* ``limit`` connections at most (in use or idle, all hosts); more requests wait for one. An
  idle connection is reused for ``keepalive_s`` at most (a server closing it first is noticed
  when it does, and the connection dropped).
* Answers come back decoded: no ``accept-encoding`` is sent; a gzip/deflate body is inflated
  anyway. Response header names are lower-case (the last of a repeated header wins).
"""
from __future__ import annotations

import asyncio
import collections
import ssl
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools


class HTTPError(OSError):
    """The exchange failed below HTTP: no connection, a dropped one, an answer that is not HTTP."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class _Target:
    key: tuple[str, int, bool]  # host, port, tls
    head: bytes  # "POST path HTTP/1.1" and every header but the length


class _Connection(asyncio.Protocol):
    """One keep-alive connection; answers one request at a time."""

    def __init__(self):
        self.transport: asyncio.Transport | None = None
        self.key: tuple = ()
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.lost = False
        self.reusable = False
        self.idle_since = 0.0
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False

    # -- one exchange ---------------------------------------------------------------------
    def send(self, data: bytes, waiter: asyncio.Future) -> None:
        self.waiter = waiter
        self.status, self.headers, self.body = 0, [], []
        self.headers_done = self.reusable = False
        self.transport.write(data)

    def answer(self) -> Reply:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.headers}
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        coding = headers.get("content-encoding")
        if coding in ("gzip", "x-gzip", "deflate") and body:
            try:
                body = zlib.decompress(body, 47 if coding != "deflate" else zlib.MAX_WBITS)
            except zlib.error as exc:
                raise HTTPError(f"the answer's {coding} body is corrupt: {exc}") from None
        return Reply(self.status, headers, body)

    def _settle(self, exc: BaseException | None = None) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    # -- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # nothing asked: a server talking out of turn; never reuse it
            self.lost = True
            self.transport.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.lost = True
            self.transport.close()
            self._settle(HTTPError(f"the answer is not HTTP/1.1: {exc}"))

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost = True
        if self.waiter is None:
            return
        if self.headers_done and not self._delimited():  # a body that runs to the close
            self._settle()
            return
        why = f": {exc}" if exc else ""
        self._settle(HTTPError(f"the server closed the connection before its answer was complete{why}"))

    def _delimited(self) -> bool:
        for name, value in self.headers:
            name = name.lower()
            if name == b"content-length" or name == b"transfer-encoding" and b"chunked" in value.lower():
                return True
        return self.status in (204, 304) or 100 <= self.status < 200

    # -- httptools callbacks --------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:  # an interim answer (100 Continue): the real one follows
            self.status, self.headers, self.body, self.headers_done = 0, [], [], False
            return
        self.reusable = self.parser.should_keep_alive()
        self._settle()


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Client:
    """Pooled connections of one event loop (the first that calls :meth:`post`)."""

    def __init__(self, headers: dict[str, str], limit: int = 512, keepalive_s: float = 30.0,
                 ssl_context: ssl.SSLContext | None = None):
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.limit = limit
        self.keepalive_s = keepalive_s
        self.closed = False
        self._ssl = ssl_context
        self._targets: dict[str, _Target] = {}
        self._idle: dict[tuple, list[_Connection]] = collections.defaultdict(list)
        self._open = 0  # connections in use or idle
        self._waiting: collections.deque[asyncio.Future] = collections.deque()

    def _target(self, url: str) -> _Target:
        found = self._targets.get(url)
        if found is not None:
            return found
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HTTPError(f"not an http(s) URL: {url.split('?')[0]}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rsplit("@", 1)[-1]
        lines = [f"POST {path} HTTP/1.1", f"host: {host}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items() if k not in ("host", "content-length")]
        found = _Target((parts.hostname, port, tls), ("\r\n".join(lines) + "\r\n").encode("latin-1"))
        if len(self._targets) < 10_000:
            self._targets[url] = found
        return found

    async def post(self, url: str, body: bytes, timeout: float) -> Reply:
        """POST ``body`` to ``url``; the whole answer, whatever its status."""
        if self.closed:
            raise HTTPError("the client is closed")
        target = self._target(url)
        data = b"%scontent-length: %d\r\n\r\n%s" % (target.head, len(body), body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        conn = self._reuse(target.key)
        if conn is None:
            async with asyncio.timeout_at(deadline):
                conn = await self._connect(target.key)
        waiter = loop.create_future()
        timer = loop.call_at(deadline, _expire, waiter)  # cheaper than asyncio.timeout per call
        try:
            conn.send(data, waiter)
            await waiter
            answer = conn.answer()
        except BaseException:
            conn.lost = True  # its answer may still come: never reuse it
            self._release(conn)
            raise
        finally:
            timer.cancel()
        self._release(conn)
        return answer

    def _reuse(self, key) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.lost and now - conn.idle_since < self.keepalive_s:
                return conn
            conn.transport.close()
            self._open -= 1
        return None

    async def _connect(self, key) -> _Connection:
        while self._open >= self.limit:
            if not self._close_an_idle():
                waiter = asyncio.get_running_loop().create_future()
                self._waiting.append(waiter)
                try:
                    await waiter
                finally:
                    if waiter in self._waiting:
                        self._waiting.remove(waiter)
                reused = self._reuse(key)
                if reused is not None:
                    return reused
        self._open += 1
        host, port, tls = key
        try:
            if tls and self._ssl is None:
                self._ssl = ssl.create_default_context()
            _, conn = await asyncio.get_running_loop().create_connection(
                _Connection, host, port, ssl=self._ssl if tls else None)
        except BaseException:
            self._open -= 1
            self._wake()
            raise
        conn.key = key
        return conn

    def _close_an_idle(self) -> bool:
        for idle in self._idle.values():
            if idle:
                idle.pop(0).transport.close()
                self._open -= 1
                return True
        return False

    def _release(self, conn: _Connection) -> None:
        if conn.lost or not conn.reusable or self.closed:
            conn.transport.close()
            self._open -= 1
        else:
            conn.idle_since = time.monotonic()
            self._idle[conn.key].append(conn)
        self._wake()

    def _wake(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        self.closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.transport.close()
            idle.clear()

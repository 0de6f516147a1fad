"""The gateway's HTTP/1.1 client against real sockets: a local server scripted per connection."""
from __future__ import annotations

import asyncio
import gzip

import pytest

from core.gateway.http1 import Client, HTTPError

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: req_1\r\nContent-Length: 12\r\n\r\n{\"ok\": true}"


class Scripted:
    """A server answering each request on a connection with the next scripted reply (bytes, or
    a callable of the writer). Records what it received and how many connections it accepted."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                self.requests.append(head + await reader.readexactly(length))
                reply = self.replies.pop(0) if self.replies else OK
                if callable(reply):
                    await reply(writer)
                    return
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1/chat/completions"

    async def __aexit__(self, *exc) -> None:
        self.server.close()


def run(coro):
    return asyncio.run(coro)


def test_answers_and_reuses_one_connection():
    async def go():
        server = Scripted()
        async with server as url:
            client = Client({"Content-Type": "application/json", "authorization": "Bearer k"})
            first = await client.post(url, b'{"a": 1}', timeout=5)
            second = await client.post(url, b'{"b": 22}', timeout=5)
            await client.close()
        return server, first, second

    server, first, second = run(go())
    assert (first.status, first.body) == (200, b'{"ok": true}')
    assert first.headers["x-request-id"] == "req_1" and first.headers["content-type"] == "application/json"
    assert second.body == b'{"ok": true}'
    assert server.connections == 1
    head = server.requests[1].lower()
    assert head.startswith(b"post /v1/chat/completions http/1.1\r\n")
    assert b"host: 127.0.0.1:" in head and b"authorization: bearer k\r\n" in head
    assert head.endswith(b'content-length: 9\r\n\r\n{"b": 22}')


def test_error_statuses_are_answers():
    reply = b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 2\r\ncontent-length: 2\r\n\r\n{}"

    async def go():
        async with Scripted(reply) as url:
            return await Client({}).post(url, b"{}", timeout=5)

    answer = run(go())
    assert (answer.status, answer.headers["retry-after"], answer.body) == (429, "2", b"{}")


def test_chunked_gzip_and_read_to_close_bodies():
    packed = gzip.compress(b'{"text": "Paris"}')
    chunked = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    zipped = (b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s"
              % (len(packed), packed))

    async def to_close(writer):
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end")
        await writer.drain()

    async def go():
        server = Scripted(chunked, zipped, to_close)
        async with server as url:
            client = Client({})
            answers = [await client.post(url, b"{}", timeout=5) for _ in range(3)]
            after = await client.post(url, b"{}", timeout=5)  # the closed one is not reused
        return server, answers, after

    server, answers, after = run(go())
    assert [a.body for a in answers] == [b"hello world", b'{"text": "Paris"}', b"until the end"]
    assert after.status == 200 and server.connections == 2


def first_fails_then_a_fresh_connection(reply, error: type[BaseException], timeout: float, match=None):
    """POST to a server whose first answer is ``reply`` (expecting ``error``), then again:
    the server and the second answer."""
    async def go():
        server = Scripted(reply)
        async with server as url:
            client = Client({})
            with pytest.raises(error, match=match):
                await client.post(url, b"{}", timeout=timeout)
            answer = await client.post(url, b"{}", timeout=5)
        return server, answer

    return run(go())


def test_a_dropped_answer_fails_and_the_next_call_gets_a_fresh_connection():
    async def drop(writer):
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"half")
        await writer.drain()

    server, answer = first_fails_then_a_fresh_connection(drop, HTTPError, 5, match="closed the connection")
    assert answer.status == 200 and server.connections == 2


def test_not_http_is_an_error():
    async def go():
        async with Scripted(b"SSH-2.0-OpenSSH\r\n\r\n") as url:
            with pytest.raises(HTTPError, match="not HTTP"):
                await Client({}).post(url, b"{}", timeout=5)

    run(go())


def test_a_slow_answer_times_out_and_its_connection_is_never_reused():
    async def hang(writer):
        await asyncio.sleep(3)

    # (the server closes after 3 s without answering)
    server, answer = first_fails_then_a_fresh_connection(hang, TimeoutError, 0.2)
    assert answer.status == 200 and server.connections == 2


def test_nobody_listening_is_an_os_error():
    async def go():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        with pytest.raises(OSError):
            await Client({}).post(f"http://127.0.0.1:{port}/v1/x", b"{}", timeout=5)

    run(go())


def test_the_limit_queues_calls_on_the_connections_there_are():
    async def go():
        server = Scripted()

        async def handle(reader, writer):  # every answer a little late, so the calls overlap
            server.connections += 1
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                      if line.lower().startswith(b"content-length")))
                    await reader.readexactly(length)
                    await asyncio.sleep(0.05)
                    writer.write(OK)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        listening = await asyncio.start_server(handle, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}/v1/x"
        client = Client({}, limit=2)
        answers = await asyncio.gather(*(client.post(url, b"{}", timeout=5) for _ in range(6)))
        listening.close()
        return server, answers

    server, answers = run(go())
    assert [a.status for a in answers] == [200] * 6
    assert server.connections == 2


def test_only_http_urls():
    with pytest.raises(HTTPError, match="not an http"):
        run(Client({}).post("ftp://example.com/x", b"{}", timeout=1))


def self_signed(tmp_path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, made by Debian's openssl (skipped without it)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: the TLS test needs it to make a certificate")
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def test_https_is_tls_verified_and_reused(tmp_path):
    """Real providers are HTTPS: the answer comes over TLS on one pooled connection, and a server
    whose certificate the client does not trust is refused before any byte of the request."""
    import ssl

    cert, key = self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)

    async def go():
        server = Scripted()
        tls_server = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server_ctx)
        url = f"https://127.0.0.1:{tls_server.sockets[0].getsockname()[1]}/v1/chat/completions"
        trusting = Client({"authorization": "Bearer k"}, ssl_context=ssl.create_default_context(cafile=cert))
        answers = [await trusting.post(url, b'{"n": %d}' % i, timeout=5) for i in range(3)]
        await trusting.close()
        default = Client({})  # the system's CAs: a self-signed certificate is not trusted
        with pytest.raises(ssl.SSLCertVerificationError):
            await default.post(url, b"{}", timeout=5)
        await default.close()
        tls_server.close()
        return server, answers

    server, answers = run(go())
    assert [(a.status, a.body) for a in answers] == [(200, b'{"ok": true}')] * 3
    assert server.connections == 1  # the untrusted client never got to send a request
    assert len(server.requests) == 3 and server.requests[2].endswith(b'{"n": 2}')

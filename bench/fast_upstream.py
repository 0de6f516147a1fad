"""A fast OpenAI-compatible upstream for the gateway benchmark: raw asyncio on uvloop, one canned
chat.completion per request, keep-alive. It answers in a few microseconds, so what the benchmark
measures is the gateway; or after ``--latency-ms`` (a timer, no CPU while it waits), like a model
that takes its time, so a load of N connections offers N / latency requests per second and the
gateway's own added latency is measured below saturation.

    python -m bench.fast_upstream --port 9100 [--latency-ms 20]
"""
from __future__ import annotations

import argparse
import asyncio

import uvloop

BODY = (b'{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"gpt-4o-mini",'
        b'"choices":[{"index":0,"message":{"role":"assistant","content":"Paris"},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}}')
RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_bench\r\n"
            b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


class Upstream(asyncio.Protocol):
    latency_s = 0.0

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            if self.latency_s:  # equal delays fire in order: answers keep the requests' order
                asyncio.get_running_loop().call_later(self.latency_s, self.answer)
            else:
                self.transport.write(RESPONSE)

    def answer(self):
        if not self.transport.is_closing():
            self.transport.write(RESPONSE)


async def main(port: int, latency_ms: float = 0.0) -> None:
    Upstream.latency_s = latency_ms / 1000
    server = await asyncio.get_running_loop().create_server(Upstream, "127.0.0.1", port, backlog=4096)
    print(f"ready {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    uvloop.run(main(args.port, args.latency_ms))

"""The least an HTTP gateway can do, as the benchmark's second reference: a Starlette app on
uvicorn (uvloop, httptools) that forwards the body to the upstream with aiohttp and returns its
answer (orjson for both JSON hops). No checks, no policy, no ledger.

    python -m bench.passthrough --port 9200 --upstream http://127.0.0.1:9100/v1/chat/completions
"""
from __future__ import annotations

import argparse

import aiohttp
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def make_app(upstream: str) -> Starlette:
    state: dict = {}

    async def chat(request: Request) -> Response:
        session = state.get("session")
        if session is None:
            session = state["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))
        body = orjson.loads(await request.body())
        async with session.post(upstream, data=orjson.dumps(body),
                                headers={"content-type": "application/json"}) as resp:
            data = orjson.loads(await resp.read())
        return Response(orjson.dumps(data), media_type="application/json")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/health", lambda r: Response(b"ok"), methods=["GET"])])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    uvicorn.run(make_app(args.upstream), host="127.0.0.1", port=args.port, loop="uvloop",
                http="httptools", log_level="warning", access_log=False)

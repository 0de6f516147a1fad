"""A real HTTP server on 127.0.0.1 that records the webhooks posted to it.

    with WebhookReceiver(fail_first=1) as hook:    # answers 500 once, then 200
        ...  hook.url
        hook.wait_for(2)                            # the JSON bodies, once two arrived
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    def __init__(self, fail_first: int = 0, status: int = 200):
        self.bodies: list[dict] = []
        self.posts = 0
        self.fail_first = fail_first
        self.status = status
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    receiver.posts += 1
                    failing = receiver.posts <= receiver.fail_first
                    if not failing and receiver.status < 300:
                        receiver.bodies.append(json.loads(data))
                self.send_response(500 if failing else receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T000/SECRETPATH"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, n: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.bodies)} webhook(s) arrived, expected {n}: {self.bodies}")
            time.sleep(0.02)
        return list(self.bodies)

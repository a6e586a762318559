"""A real HTTP server on 127.0.0.1 that records what notifiers post to it.

``statuses`` is the queue of answers (500, 500, then 200 by default when it
runs out); ``stall`` makes it hold each request until released, for timeouts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs


@attrs.define
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@attrs.define
class Receiver:
    url: str
    requests: list[Received]
    statuses: list[int]
    release: threading.Event
    stall: bool = False

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"got {len(self.requests)} requests, not {count}"
            time.sleep(0.02)
        return self.requests


@contextmanager
def receiving(statuses: list[int] | None = None, *, stall: bool = False) -> Iterator[Receiver]:
    """Serve on a free port until the block ends (always shut down)."""
    receiver = Receiver("", [], list(statuses or []), threading.Event(), stall)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            if receiver.stall:
                receiver.release.wait(60)
                return
            status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)

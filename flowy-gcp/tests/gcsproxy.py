"""A small HTTP proxy between a client and the emulator that answers chosen requests itself.

``proxy.fail(match, times, status)`` makes the next ``times`` requests for
which ``match(method, path)`` is true get ``status`` (with a JSON error body
in Google's shape) instead of reaching the emulator; everything else is
forwarded. ``proxy.log`` records what happened, in order.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Match = Callable[[str, str], bool]


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        target = urlsplit(upstream)
        self.host, self.port = target.hostname or "127.0.0.1", target.port or 80
        self.rules: list[list[object]] = []
        self.log: list[str] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status = proxy._planned(self.command, self.path)
                if status:
                    payload = json.dumps(
                        {"error": {"code": status, "message": f"injected {status}"}}
                    ).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail(self, match: Match, *, times: int, status: int) -> None:
        with self.lock:
            self.rules.append([match, times, status])

    def _planned(self, method: str, path: str) -> int:
        with self.lock:
            for rule in self.rules:
                match, left, status = rule
                if left and match(method, path):  # type: ignore[operator]
                    rule[1] = int(left) - 1  # type: ignore[call-overload]
                    self.log.append(f"fail {status} {method} {path.partition('?')[0]}")
                    return int(status)  # type: ignore[call-overload]
            self.log.append(f"pass {method} {path.partition('?')[0]}")
        return 0

    def count(self, prefix: str) -> int:
        return sum(1 for line in self.log if line.startswith(prefix))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def is_upload(method: str, path: str) -> bool:
    return path.startswith("/upload/")


def is_download(method: str, path: str) -> bool:
    return method == "GET" and "alt=media" in path

"""A small HTTP fault-injection proxy for tests: 5xx answers and connections cut mid-upload.

It sits between the S3 client and moto on 127.0.0.1 and handles one request
per connection (it rewrites ``Connection: close``), so each request can be
judged on its own: forwarded, answered with a 5xx, or forwarded partly and
then cut (the client sees the connection drop in the middle of its body).
Rules match on the method and the request target; each has a budget.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable
from typing import Any

Match = Callable[[str, str], bool]


def is_part_upload(method: str, target: str) -> bool:
    return method == "PUT" and "partNumber=" in target


def is_complete(method: str, target: str) -> bool:
    return method == "POST" and "uploadId=" in target


def is_put_object(method: str, target: str) -> bool:
    return method == "PUT" and "partNumber=" not in target and "?" not in target.split("/", 3)[-1]


class FaultProxy:
    """``proxy.fail(match, times, status)`` / ``proxy.drop(match, times, after_bytes)``."""

    def __init__(self, upstream: str) -> None:
        host, port = re.sub(r"^https?://", "", upstream).rstrip("/").split(":")
        self.upstream = (host, int(port))
        self.log: list[tuple[str, str, str]] = []  # (method, target, what happened)
        self._rules: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # -- rules -----------------------------------------------------------------

    def fail(
        self, match: Match, times: int, status: int = 503, code: str = "ServiceUnavailable"
    ) -> None:
        with self._lock:
            self._rules.append(
                {"kind": "fail", "match": match, "left": times, "status": status, "code": code}
            )

    def drop(self, match: Match, times: int, after_bytes: int = 1 << 20) -> None:
        with self._lock:
            self._rules.append(
                {"kind": "drop", "match": match, "left": times, "after": after_bytes}
            )

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def count(self, what: str) -> int:
        return sum(1 for entry in self.log if entry[2] == what)

    def _rule_for(self, method: str, target: str) -> dict[str, Any] | None:
        with self._lock:
            for rule in self._rules:
                if rule["left"] > 0 and rule["match"](method, target):
                    rule["left"] -= 1
                    return dict(rule)
        return None

    # -- serving ---------------------------------------------------------------

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(30)
        upstream: socket.socket | None = None
        try:
            head, rest = _read_head(client)
            if head is None:
                return
            lines = head.split(b"\r\n")
            method, target, _ = lines[0].decode().split(" ", 2)
            expect = any(ln.lower().startswith(b"expect: 100-continue") for ln in lines[1:])
            headers = [
                ln
                for ln in lines[1:]
                if ln and not ln.lower().startswith((b"connection:", b"expect:"))
            ]
            if expect:  # answer for the server, so the client sends its body to us
                client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            length = 0
            for ln in headers:
                name, _, value = ln.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            body = rest + _read_exact(client, length - len(rest))
            rule = self._rule_for(method, target)
            if rule is not None and rule["kind"] == "fail":
                self.log.append((method, target, f"fail {rule['status']}"))
                payload = (
                    f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{rule["code"]}</Code>'
                    "<Message>injected by the test proxy</Message></Error>"
                ).encode()
                client.sendall(
                    f"HTTP/1.1 {rule['status']} Injected\r\nContent-Type: application/xml\r\n"
                    f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                    + payload
                )
                return
            upstream = socket.create_connection(self.upstream, timeout=30)
            request = b"\r\n".join([lines[0], *headers, b"Connection: close", b"", b""])
            if rule is not None and rule["kind"] == "drop":
                self.log.append((method, target, "drop"))
                upstream.sendall(request + body[: rule["after"]])
                client.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                return  # both sockets close: the client sees a reset mid-request
            self.log.append((method, target, "pass"))
            upstream.sendall(request + body)
            while chunk := upstream.recv(1 << 16):
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            if upstream is not None:
                upstream.close()
            client.close()


def _read_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _read_exact(sock: socket.socket, n: int) -> bytes:
    parts = []
    while n > 0:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            break
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)

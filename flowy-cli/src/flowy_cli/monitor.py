"""``flowy monitor serve|dump``: Prometheus metrics read from the metadata store.

The metrics are :class:`flowy.tracking.StoreMetrics` (docs/operations.md, "Metrics"):
each scrape reads the store, so runs in progress and crashed runs show without
anything pushed. ``serve`` is a small threaded HTTP server (the standard library's)
answering ``GET /metrics``; ``dump`` prints one scrape.
"""

from __future__ import annotations

import hmac
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

import click

from flowy_cli.common import stack_option, store_client

#: The environment variable holding the bearer token scrapers must send (optional).
TOKEN_ENV = "FLOWY_MONITOR_TOKEN"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@click.group()
def monitor() -> None:
    """Expose Flowy's metrics to Prometheus (read from the metadata store)."""


@monitor.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=9464, show_default=True, type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port; the one taken is printed).",
)  # fmt: skip
@click.option(
    "--token-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"Require `Authorization: Bearer <token>` with the token in this file "
    f"(or set {TOKEN_ENV}). Required to listen on an address other than loopback.",
)  # fmt: skip
@stack_option("Serve the metrics of this stack's store instead of the active one's.")
def serve(host: str, port: int, token_file: Path | None, stack: str | None) -> None:
    """Serve the metrics at http://HOST:PORT/metrics until stopped (Ctrl-C, SIGTERM).

    \b
    Every scrape reads the store: counts of runs by pipeline and status, runs in
    progress, each pipeline's last success, step durations (histograms), cache
    hits and misses, retries, CPU seconds and peak memory of steps, artifact bytes
    written, circuit breaker states, notifier failures and the scheduler's
    heartbeat. Labels are pipeline and step names, never run ids. Point a
    Prometheus scrape job at it (docs/operations.md has one, and a Grafana
    dashboard: docs/grafana/flowy.json).
    """
    from flowy.kernel.errors import FlowyError
    from flowy.tracking import StoreMetrics

    token = _token(token_file)
    if token is None and host not in _LOOPBACK:
        raise FlowyError(
            f"Refusing to serve metrics on {host} without a token: anyone who can reach it "
            f"would read your pipelines' names and health. Pass --token-file FILE (or set "
            f"{TOKEN_ENV}) and give Prometheus the same token "
            "(`authorization: {credentials_file: FILE}` in its scrape job)."
        )
    client = store_client(stack)
    store = client.store  # a wrong stack or an unreadable store fails here, before listening
    metrics = StoreMetrics(lambda: store)
    _check(metrics)
    server = ThreadingHTTPServer((host, port), _handler(metrics, token))
    server.daemon_threads = True
    bound_host, bound_port = server.server_address[:2]
    click.echo(
        f"Serving the metrics of stack {client.stack_name!r} at "
        f"http://{_url_host(str(bound_host))}:{bound_port}/metrics (Ctrl-C to stop)",
        err=True,
    )
    _stop_on_sigterm(server)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        client.close()


@monitor.command("dump")
@stack_option("Read this stack's store instead of the active one's.")
def dump(stack: str | None) -> None:
    """Print one scrape of the metrics (the Prometheus text format) and exit."""
    from flowy.tracking import StoreMetrics, metrics_exposition

    with store_client(stack) as client:
        store = client.store
        metrics = StoreMetrics(lambda: store)
        _check(metrics)
        sys.stdout.write(metrics_exposition(metrics).decode())


def _check(metrics: Any) -> None:
    """Fail now (not at every scrape) when the store cannot serve metrics."""
    from flowy.kernel.errors import FlowyError

    try:
        metrics.read()
    except FlowyError:
        raise
    except Exception as exc:
        raise FlowyError(f"Reading the metrics from the store failed: {exc}") from exc


def _token(token_file: Path | None) -> str | None:
    from flowy.kernel.errors import FlowyError

    if token_file is not None:
        token = token_file.read_text(encoding="utf-8").strip()
        if not token:
            raise FlowyError(f"The token file {token_file} is empty: put the token in it.")
        return token
    return os.environ.get(TOKEN_ENV, "").strip() or None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _stop_on_sigterm(server: ThreadingHTTPServer) -> None:
    """SIGTERM (systemd, a supervisor) stops serving as Ctrl-C does."""

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def _handler(metrics: Any, token: str | None) -> type[BaseHTTPRequestHandler]:
    from flowy.tracking import metrics_exposition
    from prometheus_client import CONTENT_TYPE_LATEST

    lock = threading.Lock()  # one scrape at a time reads the (shared) store connection

    class Handler(BaseHTTPRequestHandler):
        server_version = "flowy-monitor"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path not in ("/metrics", "/"):
                self._send(404, b"Not found: the metrics are at /metrics\n", "text/plain")
                return
            if token is not None and not _authorized(self.headers.get("Authorization"), token):
                self._send(
                    401, b"A bearer token is required: Authorization: Bearer <token>\n",
                    "text/plain", {"WWW-Authenticate": "Bearer"},
                )  # fmt: skip
                return
            if path == "/":
                self._send(200, b"Flowy metrics: /metrics\n", "text/plain")
                return
            with lock:
                body = metrics_exposition(metrics)
            self._send(200, body, CONTENT_TYPE_LATEST)

        def _send(
            self, code: int, body: bytes, kind: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: a scrape every few seconds would flood the terminal."""

    return Handler


def _authorized(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)

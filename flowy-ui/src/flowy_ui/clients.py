"""One :class:`flowy.Client` per server thread.

FastAPI runs plain ``def`` endpoints in a pool of worker threads. A metadata
store's connection (SQLite's above all) belongs to the thread that opened it, so
each worker thread gets its own client, opened on its first request and closed
with the server. Every client shares the server's plugin manager, whose registry
is built once at start-up, before any request.

An endpoint asks for the pool (a dependency, resolved on the event loop) and takes
its client *inside* its own body: a plain ``def`` dependency could run on another
thread than the endpoint.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.tracking import Client


class ClientPool:
    """Clients on ``stack`` in ``project``, one per thread."""

    def __init__(self, stack: str | None, project: Path, plugins: FlowyPlugins) -> None:
        self.stack = stack
        self.project = project
        self.plugins = plugins
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[Client] = []
        self._closed = False

    def client(self) -> Client:
        """This thread's client (opened on first use)."""
        found: Client | None = getattr(self._local, "client", None)
        if found is not None:
            return found
        from flowy.tracking import Client

        client = Client(stack=self.stack, project=self.project, plugins=self.plugins)
        with self._lock:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            self._opened.append(client)
        self._local.client = client
        return client

    def close(self) -> None:
        """Close every client (at shutdown, when no request runs any more)."""
        with self._lock:
            self._closed = True
            opened, self._opened = self._opened, []
        for client in opened:
            with contextlib.suppress(Exception):
                client.close()

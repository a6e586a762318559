"""A real redis-server on 127.0.0.1 (a free port, no persistence), and 'machines' sharing it.

A machine is a project folder with its own metadata store (``.flowy/metadata.db``)
and a stack ``shared`` whose artifacts live in one folder every machine shares and
whose cache index is the Redis below: what two hosts without a shared database
but with a shared bucket and one Redis look like.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REDIS_SERVER = shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server process; :meth:`stop` kills it (an outage), :meth:`start` restarts it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("redis-server exited at start") from None
                time.sleep(0.05)
        raise RuntimeError("redis-server did not listen within 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        message = "redis-server is not installed (apt-get install -y redis-server)"
        if os.environ.get("CI"):  # CI installs it (scripts/install-system-packages.sh)
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The server's URL, restarted if a test stopped it, emptied after the test."""
    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    yield redis_server.url
    if redis_server.proc is not None and redis_server.proc.poll() is None:
        import redis

        redis.Redis.from_url(redis_server.url).flushall()


def make_machine(root: Path, shared: Path, redis_url: str, name: str) -> Path:
    """A project at ``root/name`` whose active stack shares artifacts and the Redis index."""
    from flowy.stacks.definitions import StackDefinition, save_stack

    project = root / name
    (project / ".flowy").mkdir(parents=True)
    components: dict[str, dict[str, Any]] = {
        "executor": {"type": "local"},
        "artifact_store": {"type": "local", "path": str(shared)},
        "metadata_store": {"type": "sqlite", "url": f"sqlite:///{project}/.flowy/metadata.db"},
        "cache_index": {"type": "redis", "url": redis_url, "timeout": 0.5},
    }
    save_stack(StackDefinition("shared", components, "test", scope="project"), project=project)
    return project


@pytest.fixture
def machine() -> Any:
    """:func:`make_machine`, for tests (conftest is not importable under importlib mode)."""
    return make_machine


#: What the tests load, registered explicitly (never whatever else happens to be installed).
PLUGINS = [
    ("flowy-executor-local", "flowy_executor_local.plugin"),
    ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
    ("flowy-materializers", "flowy_materializers.plugin"),
    ("flowy-cache-redis", "flowy_cache_redis.plugin"),
]


@pytest.fixture
def plugins() -> Any:
    """A fresh plugin manager with exactly :data:`PLUGINS`."""
    from flowy.kernel.plugins import create_plugin_manager

    return create_plugin_manager(
        entrypoints=False,
        plugins=[(name, importlib.import_module(module)) for name, module in PLUGINS],
    )

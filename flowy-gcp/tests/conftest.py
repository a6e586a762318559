"""Fixtures: one gcp-storage-emulator per session on 127.0.0.1 (in memory), real gcsfs clients.

The emulator runs in this process (a thread), so it stops with the session;
subprocesses (the vertex executor's local-mode jobs) reach it over HTTP like
any client.
"""

from __future__ import annotations

import importlib
import logging
import socket
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

PROJECT = "flowy-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """gcp-storage-emulator on a free port for the whole session, in memory."""
    from gcp_storage_emulator.server import create_server

    # The emulator logs each request, and an error for calls it does not implement
    # (cancelling a resumable upload: nothing to cancel in memory).
    logging.getLogger("gcp_storage_emulator").setLevel(logging.CRITICAL)
    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    httpd = server._api._httpd
    report = httpd.handle_error

    def handle_error(request: Any, address: Any) -> None:
        # A client that closed its connection before the answer (a timed-out attempt, a
        # closed session) is routine for a server; anything else is still printed.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            report(request, address)

    httpd.handle_error = handle_error
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def raw_fs(gcs_endpoint: str) -> Any:
    """Plain gcsfs on the emulator, to look at what the store left behind."""
    from gcsfs.core import GCSFileSystem

    return GCSFileSystem(
        token="anon", project=PROJECT, endpoint_url=gcs_endpoint, skip_instance_cache=True,
        use_listings_cache=False,
    )  # fmt: skip


@pytest.fixture
def bucket(raw_fs: Any) -> str:
    """A fresh, empty bucket for one test."""
    name = f"flowy-test-{uuid.uuid4().hex[:12]}"
    raw_fs.mkdir(name)
    return name


@pytest.fixture
def store_options(gcs_endpoint: str, bucket: str) -> dict[str, Any]:
    """Options for a gcs store on the emulator: small pieces so resumable uploads run."""
    return {
        "bucket": bucket,
        "prefix": "artifacts",
        "endpoint_url": gcs_endpoint,
        "anonymous": True,
        "chunk_size": 1024 * 1024,
        "connect_timeout": 2.0,
        "read_timeout": 10.0,
        "retries": 2,
    }


@pytest.fixture
def store(store_options: dict[str, Any]) -> Any:
    from flowy_gcp.gcs_store import GcsArtifactStore

    return GcsArtifactStore(**store_options)


@pytest.fixture
def gcp_plugins() -> Any:
    """First-party plugins plus flowy-gcp, registered explicitly (nothing autoloaded)."""
    from flowy.kernel.plugins import create_plugin_manager

    modules = [
        ("flowy-executor-local", "flowy_executor_local.plugin"),
        ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
        ("flowy-materializers", "flowy_materializers.plugin"),
        ("flowy-gcp", "flowy_gcp.plugin"),
    ]
    return create_plugin_manager(
        entrypoints=False,
        plugins=[(name, importlib.import_module(module)) for name, module in modules],
    )


@pytest.fixture
def project(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh project folder; FLOWY_HOME is a temp folder too."""
    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(root))
    monkeypatch.delenv("FLOWY_STACK", raising=False)
    monkeypatch.chdir(root)
    return root

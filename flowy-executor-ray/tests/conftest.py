"""Fixtures for flowy-executor-ray's tests: one real Ray cluster for the whole test session.

The cluster is what a team runs: ``ray start --head --block`` in its own process
group, 2 CPUs, one (logical) GPU and a custom ``special`` resource, listening on
127.0.0.1 only, with token authentication (``RAY_AUTH_MODE=token``). This process
connects to it once; each run's executor then finds the connection and leaves it
open. Tests that need a process of their own (an executor starting its own
instance, an unreachable address) run ``flowy`` in a subprocess.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.plugins import FlowyPlugins, create_plugin_manager

#: This process and the cluster: loopback only, no usage statistics, token authentication.
RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "token",
}
#: What the session's cluster offers.
CLUSTER_RESOURCES = {"CPU": 2, "GPU": 1, "special": 2}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def free_port() -> Any:
    """A function returning a free TCP port on 127.0.0.1."""
    return _free_port


@pytest.fixture
def ray_plugins() -> FlowyPlugins:
    return create_plugin_manager(
        entrypoints=False,
        plugins=[
            ("flowy-executor-ray", importlib.import_module("flowy_executor_ray.plugin")),
            ("flowy-executor-local", importlib.import_module("flowy_executor_local.plugin")),
            ("flowy-store-sqlite", importlib.import_module("flowy_store_sqlite.plugin")),
        ],
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(root))
    monkeypatch.delenv("FLOWY_STACK", raising=False)
    return root


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's Ray cluster (its GCS address); this process is connected to it."""
    os.environ.update(RAY_ENV)
    port = _free_port()
    # Ports Ray would otherwise take at fixed numbers (8265, 52365, 10001, ...): free ones,
    # so that two sessions (pytest-xdist workers) each run a cluster of their own.
    ports = {
        name: _free_port()
        for name in (
            "ray-client-server-port",
            "dashboard-port",
            "dashboard-agent-listen-port",
            "dashboard-agent-grpc-port",
            "runtime-env-agent-port",
            "metrics-export-port",
        )
    }
    log = tmp_path_factory.mktemp("ray") / "ray-start.log"
    ray_cli = Path(sys.executable).with_name("ray")
    command = [
        str(ray_cli) if ray_cli.exists() else sys.executable,
        *([] if ray_cli.exists() else ["-m", "ray.scripts.scripts"]),
        "start",
        "--head",
        "--block",
        f"--port={port}",
        *(f"--{name}={number}" for name, number in ports.items()),
        f"--num-cpus={CLUSTER_RESOURCES['CPU']}",
        f"--num-gpus={CLUSTER_RESOURCES['GPU']}",
        f"--resources={json.dumps({'special': CLUSTER_RESOURCES['special']})}",
        "--include-dashboard=false",
        "--disable-usage-stats",
    ]
    with open(log, "wb") as out:
        head = subprocess.Popen(
            command,
            env={**os.environ, **RAY_ENV},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the cluster's processes end with it
        )
    address = f"127.0.0.1:{port}"
    try:
        _wait_for_port(head, port, log)
        import ray

        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        yield address
    finally:
        with contextlib.suppress(Exception):
            import ray

            ray.shutdown()
        _stop(head)


def _wait_for_port(head: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray start exited {head.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"ray start did not listen on {port} within 120 s:\n{log.read_text()}")


def _stop(head: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``ray start --block`` (it drains and stops its processes), then its group."""
    with contextlib.suppress(ProcessLookupError):
        head.send_signal(signal.SIGTERM)
    try:
        head.wait(60)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(head.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        head.wait(10)


@pytest.fixture
def ray_module(ray_cluster: str) -> Any:
    import ray

    return ray

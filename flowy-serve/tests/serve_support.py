"""Helpers of flowy-serve's tests: real ``flowy`` subprocesses and real servers.

``trained(template, name)`` makes a project from a ``flowy init`` template (smaller
data), runs it, registers its ``train`` output as model ``name`` version 1 and
promotes it to production. ``serving(project, env, *args)`` starts
``flowy model serve ... --port 0`` and yields its URL once it says where it listens;
the server is always stopped (SIGTERM, then SIGKILL) when the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_SCRIPT = Path(sys.executable).with_name("flowy")
FLOWY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "flowy_cli.main"]
SMALLER = {
    "sklearn": [("n_samples=2000", "n_samples=300"), ("n_estimators=50", "n_estimators=5")],
    "pytorch": [("n_samples=512", "n_samples=128"), ("epochs=30", "epochs=3")],
    "tensorflow": [("n_samples=1000", "n_samples=128"), ("epochs=10", "epochs=2")],
}


def flowy_env(home: Path, **extra: str) -> dict[str, str]:
    """This environment without FLOWY_ settings, with its own FLOWY_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(home), COLUMNS="200", **extra)
    return env


def run_flowy(
    cwd: Path, env: dict[str, str], *args: str, code: int | None = 0, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*FLOWY, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    if code is not None:
        assert done.returncode == code, (
            f"flowy {' '.join(args)} exited {done.returncode}, expected {code}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return done


def train_artifact(cwd: Path, env: dict[str, str], run_id: str | None = None) -> str:
    """The id of the newest run's (or ``run_id``'s) ``train`` output."""
    args = ["artifacts", "list", "--name", "train", "--json"]
    listed = json.loads(run_flowy(cwd, env, *args).stdout)
    if run_id is not None:
        listed = [a for a in listed if a["run_id"] == run_id]
    return str(listed[0]["artifact_id"])


class Server:
    """A running ``flowy model serve`` process and its URL."""

    def __init__(self, proc: subprocess.Popen[str], url: str, output: list[str]) -> None:
        self.proc = proc
        self.url = url
        self.output = output

    def client(self, **kwargs: Any) -> Any:
        import httpx

        return httpx.Client(base_url=self.url, timeout=60, **kwargs)


@contextlib.contextmanager
def serving(
    cwd: Path, env: dict[str, str], *args: str, timeout: float = 180,
    flowy: list[str] | None = None,
) -> Iterator[Server]:  # fmt: skip
    """Start ``flowy model serve ARGS --port 0`` and yield it once it listens; always stop it."""
    proc = subprocess.Popen(
        [*(flowy or FLOWY), "model", "serve", *args, "--port", "0"], cwd=cwd, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    found: dict[str, str] = {}
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            match = re.search(r" on (http://\S+)", line)
            if match and not ready.is_set():
                found["url"] = match[1]
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        ready.wait(timeout)
        if "url" not in found:
            raise AssertionError(
                f"the server did not start (exit {proc.poll()}):\n{''.join(lines)}"
            )
        yield Server(proc, found["url"], lines)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        reader.join(timeout=10)


def wait_for(condition: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    """Poll ``condition`` until it is truthy (generous timeouts: a loaded machine must pass)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)

"""Local mode: the job's command in a subprocess, as the container would run it.

Every remote-job executor offers ``mode = "local"`` for development and
tests: the same entrypoint, the same manifest in the same store, but in a
local subprocess. The process leads its own session, so the step's timeout
(which plays the service's stopping condition) and a cancelled run end it
together with everything it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence

import attrs


@attrs.frozen
class LocalOutcome:
    """How a local job ended: its exit status and output, or that it overran."""

    returncode: int | None
    """None when the timeout ended it."""
    output: str


class LocalJobs:
    """Starts local jobs and remembers the running ones so a cancel can kill them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()

    def run(
        self, command: Sequence[str], environment: Mapping[str, str], timeout: float | None
    ) -> LocalOutcome:
        """Run ``command`` with ``environment`` added to this process's; kill it at ``timeout``."""
        proc = subprocess.Popen(
            list(command),
            env={**os.environ, **environment},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with self._lock:
            self._running.add(proc)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return LocalOutcome(None, "")
        finally:
            with self._lock:
                self._running.discard(proc)
        return LocalOutcome(proc.returncode, out.decode(errors="replace"))

    def kill_all(self) -> None:
        """End every running local job (a cancelled run)."""
        with self._lock:
            procs = list(self._running)
        for proc in procs:
            kill_group(proc)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """End the process and everything it started (it leads its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.communicate(timeout=10)
    except (subprocess.TimeoutExpired, ValueError):
        pass

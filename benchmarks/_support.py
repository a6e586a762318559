"""What the UI benchmarks share: a server process on a free port, percentiles, Chromium.

Not a benchmark itself: ``benchmarks/run.py`` skips modules whose name starts with ``_``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(
    name: str,
    command: Sequence[str],
    port: int,
    health: str,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    patience: float = 180.0,
) -> Iterator[str]:
    """Run ``command`` (serving on ``port``) until ``health`` answers; yield its URL.

    Its output goes to a temporary file, shown when it exits before answering.
    """
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + patience
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise SystemExit(f"{name} exited:\n{log.read().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(url + health, timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name} did not answer within {patience:.0f} s") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def percentiles(times_ms: list[float]) -> dict[str, float]:
    """``p50``, ``p99`` and ``n`` of request times."""
    ordered = sorted(times_ms)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "n": float(len(ordered)),
    }


def chromium() -> str:
    """Debian's Chromium (``CHROMIUM`` overrides): Playwright cannot download browsers here."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or "chromium"


#: Chromium's flags for a container run as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]

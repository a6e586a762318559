"""What the benchmarks share: a server process on a free port, percentiles, Chromium (the
UI benchmarks); the ``flowy`` command timed in a fresh project, and start-up (map, sweep).

Not a benchmark itself: ``benchmarks/run.py`` skips modules whose name starts with ``_``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
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


#: A one-step pipeline: its cached re-run is start-up and exit.
ONE_STEP = """
from flowy import Pipeline, step

@step
def one() -> int:
    return 1

pipeline = Pipeline("one", [one])
"""


def flowy_command() -> list[str]:
    """This environment's ``flowy`` command (its console script, else the module)."""
    script = Path(sys.executable).with_name("flowy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "flowy_cli.main"]


def flowy_env(project: Path, home: Path) -> dict[str, str]:
    """This process's environment without its FLOWY_ settings, for ``project`` and ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env.update(FLOWY_HOME=str(home), FLOWY_PROJECT=str(project))
    return env


def flowy(project: Path, home: Path, *args: str) -> float:
    """Wall time of one ``flowy`` command (which must succeed)."""
    started = time.perf_counter()
    done = subprocess.run(
        [*flowy_command(), *args],
        cwd=project, env=flowy_env(project, home), capture_output=True, text=True, check=False,
    )  # fmt: skip
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"flowy {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return took


def fresh_project(root: Path, source: str) -> tuple[Path, Path]:
    """A new project with ``source`` as ``p.py``; the user's home (FLOWY_HOME: caches of
    installed distributions and code digests) is shared by every project of the benchmark,
    as on a user's machine."""
    shutil.rmtree(root, ignore_errors=True)
    project = root / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "p.py").write_text(source)
    return project, root.parent / "home"


def startup(base: Path) -> float:
    """Wall time of a cached one-step ``flowy run``: start-up and exit."""
    project, home = fresh_project(base / "one", ONE_STEP)
    flowy(project, home, "run", "p.py")
    return flowy(project, home, "run", "p.py")

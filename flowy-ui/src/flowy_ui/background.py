"""``flowy ui start|stop|status``: the UI server in the background, found by a pid file.

``start`` runs the same ``flowy ui`` command detached (its own session, so closing
the terminal does not stop it) with its output appended to ``FLOWY_HOME/ui/server.log``,
waits until it answers ``/healthz`` and records it in ``FLOWY_HOME/ui/server.json``:
pid, URL, project, stack, log, and the process's start time. The start time guards
against pid reuse: a record whose pid now belongs to another process is stale, and
``stop`` never signals a process it did not start. One background server per
``FLOWY_HOME``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
from flowy.kernel.errors import FlowyError

from flowy_ui.settings import ui_home

#: How long ``start`` waits for the server to answer, and ``stop`` for it to exit.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
_ANNOUNCED = re.compile(r"Flowy UI serving stack .* at (http://\S+)")


class BackgroundError(FlowyError):
    """The background server could not be started or stopped."""


@attrs.frozen
class ServerRecord:
    """What ``server.json`` holds about the background server."""

    pid: int
    url: str
    project: str
    log: str
    started_at: float
    process_start: str | None = None


def record_path() -> Path:
    return ui_home() / "server.json"


def log_path() -> Path:
    return ui_home() / "server.log"


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux ``/proc``), None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _alive(record: ServerRecord) -> bool:
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone's process; the start time below decides whose
    if record.process_start is None:
        return True
    return _process_start(record.pid) == record.process_start


def read() -> ServerRecord | None:
    """The running background server, or None (a stale record is removed)."""
    path = record_path()
    try:
        record = ServerRecord(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as exc:
        path.unlink(missing_ok=True)
        raise BackgroundError(
            f"{path} was damaged ({exc}) and has been removed. If a background server is "
            "still running, stop it by its process id."
        ) from exc
    if _alive(record):
        return record
    path.unlink(missing_ok=True)
    return None


def _write(record: ServerRecord) -> None:
    path = record_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(attrs.asdict(record), indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _announced_url(log: Path, offset: int) -> str | None:
    try:
        with log.open(encoding="utf-8", errors="replace") as handle:
            handle.seek(offset)
            found = _ANNOUNCED.search(handle.read())
    except FileNotFoundError:
        return None
    return found.group(1) if found else None


def _tail(log: Path, offset: int, lines: int = 20) -> str:
    with log.open(encoding="utf-8", errors="replace") as handle:
        handle.seek(offset)
        return "\n".join(handle.read().splitlines()[-lines:])


def start(serve_args: Sequence[str], project: Path) -> ServerRecord:
    """Start ``flowy ui --no-browser *serve_args`` in the background; its record once it answers."""
    running = read()
    if running is not None:
        raise BackgroundError(
            f"A background Flowy UI is already running at {running.url} (pid {running.pid}, "
            f"project {running.project}). Stop it first: `flowy ui stop`."
        )
    log = log_path()
    log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    command = [sys.executable, "-m", "flowy_cli.main", "ui", "--no-browser", *serve_args]
    with log.open("ab") as out:
        offset = out.tell()
        out.write(f"--- flowy ui start at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            command, cwd=project, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT
    url = None
    while url is None:
        if proc.poll() is not None:
            raise BackgroundError(
                f"flowy ui exited with status {proc.returncode} before it served. Its output "
                f"({log}):\n{_tail(log, offset)}"
            )
        if time.monotonic() > deadline:
            _terminate(proc.pid)
            raise BackgroundError(
                f"flowy ui did not answer within {START_TIMEOUT:.0f} s and was stopped. Its "
                f"output ({log}):\n{_tail(log, offset)}"
            )
        url = _announced_url(log, offset)
        if url is None:
            time.sleep(0.1)
    record = ServerRecord(
        pid=proc.pid,
        url=url,
        project=str(project),
        log=str(log),
        started_at=time.time(),
        process_start=_process_start(proc.pid),
    )
    _write(record)
    return record


def _terminate(pid: int) -> bool:
    """SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT`; whether it had to be killed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


def stop() -> tuple[ServerRecord | None, bool]:
    """Stop the background server: (its record or None when none ran, whether it was killed)."""
    record = read()
    if record is None:
        return None, False
    killed = _terminate(record.pid)
    record_path().unlink(missing_ok=True)
    return record, killed


def describe(record: ServerRecord) -> dict[str, Any]:
    """What ``status --json`` prints."""
    return {**attrs.asdict(record), "uptime": round(time.time() - record.started_at, 1)}

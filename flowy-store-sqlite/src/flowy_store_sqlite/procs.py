"""Is the process that started a run still alive? (for ``mark_crashed_runs``)."""

from __future__ import annotations

import os

# /proc's btime has one-second resolution; allow for it when comparing times.
_CLOCK_SLACK = 2.0


def pid_alive(pid: int, started_at: float) -> bool:
    """Whether ``pid`` is alive and is plausibly the process that started at ``started_at``.

    ``os.kill(pid, 0)`` alone is fooled by pid reuse; where ``/proc`` exists
    we also require the process to be older than the run it supposedly owns.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by someone else
    except OSError:
        return False
    started = _process_start(pid)
    return started is None or not started_at or started <= started_at + _CLOCK_SLACK


def _process_start(pid: int) -> float | None:
    """The POSIX time ``pid`` started, from /proc (Linux); None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        with open("/proc/stat", "rb") as f:
            btime = next(float(line.split()[1]) for line in f if line.startswith(b"btime "))
        ticks = int(stat.rsplit(b")", 1)[1].split()[19])
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None

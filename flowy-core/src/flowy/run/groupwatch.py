"""Process groups that must not outlive this process, and the watchdog that ends them.

Steps run in process groups of their own (a pool worker's, a forked attempt's),
so that a timeout or a cancel can end the step *and* whatever it started. The
kernel kills such a worker when the orchestrator dies (``PR_SET_PDEATHSIG``,
see :func:`flowy.run.forked.die_with_parent`), but not the processes the step
started: a ``subprocess.Popen(["sleep", "300"])`` would keep running, orphaned.

So the first group registered here starts a watchdog: a tiny separate Python
process that reads group ids from a pipe only this process writes to, ignores
the signals that end a run (Ctrl-C, SIGTERM, SIGHUP), and when the pipe closes,
because this process exited or was SIGKILLed, kills every group still
registered. A group is forgotten as soon as it has been SIGKILLed, so an id
the system recycles later is never hit. Forked children close their copy of
the pipe at once (:func:`os.register_at_fork`), so only this process's death
closes it.

A step run in this very process (the local executor's sequential mode) starts
its processes in this process's group, which it may share with others. While
such a step runs (:func:`children_watched`), and only when this process leads
its group (a shell job, ``setsid``), the watchdog is told to kill, should this
process die, the group's other members except the watchdog and what descends
from this process's parent by another line: the programs a shell put in the
same job (``| head``). Linux only (it reads ``/proc``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

#: Process groups and ``posix_spawn``: POSIX (not Windows).
_SUPPORTED = hasattr(os, "killpg") and hasattr(os, "posix_spawn")

#: The watchdog program (no imports beyond os/signal: it starts in milliseconds).
_WATCHDOG = """
import os, signal
for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGPIPE"):
    signal.signal(getattr(signal, name), signal.SIG_IGN)
groups, shared, pending = set(), {}, b""
owner = os.getppid()  # the process watched: what descends from it is ours
while True:
    try:
        data = os.read(0, 4096)
    except InterruptedError:
        continue
    except OSError:
        break
    if not data:
        break
    *lines, pending = (pending + data).split(b"\\n")
    for line in lines:
        kind, rest = line[:1], line[1:].split()
        if not rest:
            continue
        if kind == b"+":
            groups.add(int(rest[0]))
        elif kind == b"-":
            groups.discard(int(rest[0]))
        elif kind == b"*":
            shared[int(rest[0])] = int(rest[1])
        elif kind == b"/":
            shared.pop(int(rest[0]), None)
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass

def table():
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/" + entry + "/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry)] = (int(fields[1]), int(fields[2]))
    return found

def spared(pid, parents, shell):
    for _ in range(64):  # the shell's other jobs' processes descend from it, not from us
        pid = parents.get(pid, (0, 0))[0]
        if pid == owner:  # it may not have been reparented yet
            return False
        if pid == shell:
            return True
        if pid <= 1:
            return False
    return False

for group, shell in shared.items():
    for _ in range(2):  # again, for a process forked while the first pass ran
        procs = table()
        for pid, (ppid, pgrp) in procs.items():
            if pgrp == group and pid != os.getpid() and not spared(pid, procs, shell):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
"""


class _Watch:
    """This process's watchdog: its pid and the write end of its pipe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.pid: int | None = None

    def send(self, line: str, *, start: bool) -> None:
        with self._lock:
            if self._fd is None:
                if not start:
                    return
                self._start()
            assert self._fd is not None
            with contextlib.suppress(OSError):  # a watchdog gone is no reason to fail a step
                os.write(self._fd, line.encode())

    def _start(self) -> None:
        """Start the watchdog with ``posix_spawn``.

        Not ``subprocess``: it waits for an error pipe to close at ``exec``,
        and a worker forked by another thread meanwhile would inherit that
        pipe and hang it for the worker's whole life.
        """
        read_end, write_end = os.pipe()  # both close-on-exec; dup2 onto stdin clears it
        try:
            self.pid = os.posix_spawn(
                sys.executable,
                [sys.executable, "-I", "-S", "-c", _WATCHDOG],
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, read_end, 0),
                    # never hold the run's output pipe (`| head`) open
                    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                ],
            )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self._fd = write_end

    def after_fork(self) -> None:
        """In a forked child: drop the parent's pipe (its death alone must close it)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._lock = threading.Lock()
        self._fd = None
        self.pid = None


_watch = _Watch()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watch.after_fork)


def start_watchdog() -> None:
    """Start this process's watchdog now, before threads that fork exist (cheap if running)."""
    if _SUPPORTED:
        _watch.send("", start=True)


@contextlib.contextmanager
def children_watched() -> Iterator[None]:
    """While the block runs, what this process starts dies with it (see the module)."""
    group = os.getpgrp() if _SUPPORTED else 0
    if not (group == os.getpid() and os.path.isdir("/proc/self")):
        yield
        return
    _watch.send(f"*{group} {os.getppid()}\n", start=True)
    try:
        yield
    finally:
        _watch.send(f"/{group}\n", start=False)


def watch_group(group: int) -> None:
    """Kill process group ``group`` if this process dies before :func:`forget_group`."""
    if _SUPPORTED:
        _watch.send(f"+{group}\n", start=True)


def forget_group(group: int) -> None:
    """``group`` was SIGKILLed (or its leader not yet reaped is gone): stop watching it."""
    if _SUPPORTED:
        _watch.send(f"-{group}\n", start=False)

"""One attempt of a step in a forked child process, really stopped on timeout.

Executors that run steps where a thread cannot be stopped (this process, a
Dask worker) run a timed attempt here: the child gets its own process group,
dies with its parent, and sends back only the small step result; on overrun
the whole group (the step and anything it started) is killed and reaped, and
the attempt is reported ``timed_out`` (retryable). Interrupted (Ctrl-C here),
the child is interrupted too and given a moment to send back what its step had
done, which is raised as :class:`~flowy.run.worker.StepInterrupted`.

Given ``on_output``, the child also streams what its step prints while it
runs (:mod:`flowy.run.live_output`) over a second pipe, as length-prefixed
UTF-8 frames the parent hands to ``on_output``; without it there is no second
pipe. The parent closes that pipe before it waits for an interrupted child's
result, so a child blocked writing output fails there instead of hanging.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import pickle
import select
import signal
import struct
import sys
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowy.kernel.records import StepResult, StepTask
from flowy.run.groupwatch import forget_group, start_watchdog, watch_group
from flowy.run.worker import StepInterrupted, execute_attempt, timed_out_result, worker_died_result

if TYPE_CHECKING:
    from flowy.kernel.contracts import WorkerRuntime

_PR_SET_PDEATHSIG = 1
#: Seconds an interrupted child has to send back its step's partial result.
INTERRUPT_GRACE = 3.0


def die_with_parent(parent: int | None = None) -> None:
    """Linux: have the kernel SIGKILL this process when its parent exits.

    ``parent`` is the pid that started us: if it died before the request was
    made (the kernel would then never signal), exit now instead.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(0)


def run_attempt_forked(
    task: StepTask,
    fn: Callable[..., Any] | None,
    runtime: WorkerRuntime,
    retry_on: tuple[type[BaseException], ...],
    *,
    kill_grace: float = 0.0,
    active: set[int] | None = None,
    on_output: Callable[[str], None] | None = None,
) -> StepResult:
    """Run one attempt of ``task`` in a forked child, bounded by ``task.timeout``.

    ``active`` holds the child's pid while it runs, so a cancelling executor
    can kill it from another thread; ``kill_grace`` seconds separate SIGTERM
    and SIGKILL on overrun. ``on_output`` (called in this process) receives what
    the step prints while it runs, as :func:`~flowy.run.worker.execute_attempt`'s does.
    """
    assert task.timeout is not None
    start_watchdog()  # before the fork: the child must not inherit a half-made watchdog
    read_fd, write_fd = os.pipe()
    out_read, out_write = os.pipe() if on_output is not None else (-1, -1)
    started = time.time()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # child: run, send the pickled result, leave without cleanup handlers
        code = 0
        try:
            os.setpgid(0, 0)
            die_with_parent(parent)
            os.close(read_fd)
            send = None
            if out_write >= 0:
                os.close(out_read)
                send = functools.partial(_send_frame, out_write)
            try:
                result = execute_attempt(task, fn, runtime, retry_on, on_output=send)
            except StepInterrupted as stopped:  # the parent was interrupted: say what ran
                result = stopped.result
            view = memoryview(pickle.dumps(result))
            while view:
                view = view[os.write(write_fd, view) :]
        except BaseException:  # noqa: BLE001 - any failure is reported by the exit code
            code = 70
        finally:
            os._exit(code)
    os.close(write_fd)
    output = None
    if on_output is not None:
        os.close(out_write)
        output = _Frames(out_read, on_output, task.step)
    with contextlib.suppress(OSError):  # the child already did it, or already exited
        os.setpgid(pid, pid)
    watch_group(pid)  # killed by a watchdog if this process dies first (flowy.run.groupwatch)
    if active is not None:
        active.add(pid)
    try:
        return _await_child(task, pid, read_fd, started, kill_grace, output=output)
    finally:
        if output is not None:
            output.close()
        if active is not None:
            active.discard(pid)


def _send_frame(fd: int, text: str) -> None:
    """In the child: one piece of output to the parent (a 4-byte length, then UTF-8)."""
    data = text.encode("utf-8", "replace")
    view = memoryview(struct.pack("!I", len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


class _Frames:
    """In the parent: the child's output pipe, read as frames and handed to ``on_output``."""

    def __init__(self, fd: int, on_output: Callable[[str], None], step: str) -> None:
        self.fd = fd
        self.on_output = on_output
        self.step = step
        self.buffer = bytearray()

    def pump(self) -> None:
        """Read what is there; hand on each whole frame. At end of file, stop reading."""
        data = os.read(self.fd, 1 << 16)
        if not data:
            self.close()
            return
        self.buffer += data
        while len(self.buffer) >= 4:
            (size,) = struct.unpack_from("!I", self.buffer)
            if len(self.buffer) < 4 + size:
                break
            text = bytes(self.buffer[4 : 4 + size]).decode("utf-8", "replace")
            del self.buffer[: 4 + size]
            try:
                self.on_output(text)
            except Exception as exc:  # noqa: BLE001 - a view of the run: only warn
                warnings.warn(
                    f"showing the output of step {self.step!r} while it runs failed: "
                    f"{type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )

    def close(self) -> None:
        """Stop reading (a child still writing gets a broken pipe, never a hang)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def _await_child(
    task: StepTask,
    pid: int,
    read_fd: int,
    started: float,
    kill_grace: float,
    *,
    output: _Frames | None = None,
) -> StepResult:
    assert task.timeout is not None
    chunks: list[bytes] = []
    deadline = time.monotonic() + task.timeout
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            watched = [read_fd] if output is None or output.fd < 0 else [read_fd, output.fd]
            readable, _, _ = select.select(watched, [], [], remaining)
            if output is not None and output.fd >= 0 and output.fd in readable:
                output.pump()
            if read_fd in readable:
                data = os.read(read_fd, 1 << 16)
                if not data:
                    break
                chunks.append(data)
    except KeyboardInterrupt:
        if output is not None:
            output.close()  # the child must not block on output while it reports
        stopped = _interrupted_result(pid, read_fd, chunks)
        kill_group(pid, 0.0)
        if stopped is not None:
            raise StepInterrupted(stopped) from None
        raise
    except BaseException:
        kill_group(pid, 0.0)
        raise
    finally:
        os.close(read_fd)
    if timed_out:
        kill_group(pid, kill_grace)
        return timed_out_result(task, started)
    while output is not None and output.fd >= 0:  # the child wrote its output before its result
        output.pump()
    # What the step started and left running ends with its attempt: the group is killed
    # while its leader is an unreaped zombie, so the group id cannot have been recycled.
    _wait_exited(pid)
    _kill_leftovers(pid)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        how = (
            f"was killed by signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else f"exited with code {os.WEXITSTATUS(status)}"
        )
        return worker_died_result(task, started, how)
    result: StepResult = pickle.loads(b"".join(chunks))  # our own child, over our own pipe
    return result


def _interrupted_result(pid: int, read_fd: int, chunks: list[bytes]) -> StepResult | None:
    """Interrupt the child and read the partial result it sends, for a moment at most."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGINT)  # the child only: what it started is killed with its group
    deadline = time.monotonic() + INTERRUPT_GRACE
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            if not select.select([read_fd], [], [], remaining)[0]:
                return None
            data = os.read(read_fd, 1 << 16)
            if not data:
                break
            chunks.append(data)
        else:
            return None
        result: StepResult = pickle.loads(b"".join(chunks))
    except (KeyboardInterrupt, OSError, EOFError, pickle.UnpicklingError):
        return None  # a second Ctrl-C, or no (whole) result: the step is just cancelled
    return result


def _wait_exited(pid: int) -> None:
    """Wait until child ``pid`` has exited, without reaping it (Linux: ``waitid`` WNOWAIT)."""
    if hasattr(os, "waitid") and hasattr(os, "WNOWAIT"):
        with contextlib.suppress(ChildProcessError):
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


def _kill_leftovers(pid: int) -> None:
    """SIGKILL what is left in the group of exited (not yet reaped) child ``pid``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    forget_group(pid)


def kill_group(pid: int, grace: float = 0.0) -> None:
    """End a child's whole process group and reap the child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if grace > 0:
            os.killpg(pid, signal.SIGTERM)
            time.sleep(grace)
        os.killpg(pid, signal.SIGKILL)
    forget_group(pid)  # SIGKILLed: nothing of the group can outlive it now
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)

"""What runs on a Dask worker: one step task in, one small step result out.

The worker builds its artifact store and materializers from the task (once per
worker process, see :func:`flowy.worker.runtime_from_task`), imports the step
by reference, and runs the attempts with the task's retries and backoff. An
attempt with a timeout runs in a forked child in its own process group, so an
overrun is *stopped* (the group is SIGKILLed and the child reaped) instead of
leaving a thread spinning inside the Dask worker, which Dask cannot interrupt.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import select
import signal
import sys
import time
from typing import TYPE_CHECKING

import attrs
from flowy import records as R
from flowy.records import StepRef, StepResult, StepTask
from flowy.worker import execute_attempt, retry_types, run_with_retries, runtime_from_task

if TYPE_CHECKING:
    from flowy.worker import WorkerRuntime

#: The name under which a pipeline script's ``__main__`` is loaded on a worker.
MAIN_ALIAS = "__flowy_main__"


def run_task(task: StepTask) -> StepResult:
    """Run ``task`` with retries on this worker; never raises for a step failure."""
    runtime = runtime_from_task(task)
    task = _worker_ref(task)
    try:
        retry_on = retry_types(task)
    except Exception:  # noqa: BLE001 - an unimportable retry_on type: retry on anything
        retry_on = (Exception,)

    def attempt(t: StepTask) -> StepResult:
        if t.timeout is None:
            return execute_attempt(t, None, runtime, retry_on)
        return run_in_child(t, runtime, retry_on)

    return run_with_retries(task, attempt)


def _worker_ref(task: StepTask) -> StepTask:
    """Point a step defined in the orchestrator's ``__main__`` script at that file.

    On a worker ``__main__`` is Dask's own, so the script is loaded by path
    under another name (its ``if __name__ == "__main__":`` block does not run).
    """
    ref = task.step_ref
    if ref.module != "__main__" or not ref.path:
        return task
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and os.path.realpath(main_file) == os.path.realpath(ref.path):
        return task
    return attrs.evolve(task, step_ref=StepRef(MAIN_ALIAS, ref.qualname, ref.path))


def _die_with_parent(parent: int) -> None:
    """Linux: SIGKILL this child when the worker dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def run_in_child(
    task: StepTask, runtime: WorkerRuntime, retry_on: tuple[type[BaseException], ...]
) -> StepResult:
    """One attempt in a forked child; on overrun its process group is killed and reaped."""
    assert task.timeout is not None
    read_fd, write_fd = os.pipe()
    started = time.time()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # child: run, send the pickled result, leave without cleanup handlers
        code = 0
        try:
            os.setpgid(0, 0)
            _die_with_parent(parent)
            os.close(read_fd)
            view = memoryview(pickle.dumps(execute_attempt(task, None, runtime, retry_on)))
            while view:
                view = view[os.write(write_fd, view) :]
        except BaseException:  # noqa: BLE001
            code = 70
        finally:
            os._exit(code)
    os.close(write_fd)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    chunks: list[bytes] = []
    deadline = time.monotonic() + task.timeout
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            readable, _, _ = select.select([read_fd], [], [], remaining)
            if readable:
                data = os.read(read_fd, 1 << 16)
                if not data:
                    break
                chunks.append(data)
    finally:
        os.close(read_fd)
        if timed_out:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if timed_out:
        return StepResult(
            step=task.step,
            status=R.TIMED_OUT,
            started_at=started,
            finished_at=time.time(),
            error=f"TimeoutError: step {task.step!r} overran its timeout of {task.timeout:g} s "
            "and was stopped",
            error_type="builtins.TimeoutError",
            retryable=True,
        )
    if not chunks:
        how = (
            f"was killed by signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else f"exited with code {os.WEXITSTATUS(status)}"
        )
        return StepResult(
            step=task.step,
            status=R.FAILED,
            started_at=started,
            finished_at=time.time(),
            error=f"WorkerDied: the process running step {task.step!r} {how}",
            error_type="flowy.WorkerDied",
        )
    result: StepResult = pickle.loads(b"".join(chunks))
    return result

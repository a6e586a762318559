"""The ``local`` executor: steps in this process, in dependency order.

A step without a timeout runs in this process (no start-up cost, works for
steps defined anywhere, even in ``__main__``). A step *with* a timeout runs
each attempt in a forked child process in its own process group: when the
attempt overruns, the whole group is killed (SIGKILL), so the step and any
processes it started really stop, and the attempt is reported timed out
(and retried if retries remain). The child writes its outputs to the
artifact store itself and sends back only the small step result.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from flowy import records as R
from flowy.contracts import Executor
from flowy.records import StepResult, StepTask, from_dict, to_dict
from flowy.worker import execute_attempt, run_with_retries
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from flowy.step import Step
    from flowy.worker import WorkerRuntime


class LocalOptions(BaseModel):
    """Options of the ``local`` executor."""

    model_config = ConfigDict(extra="forbid")
    kill_grace: float = Field(0.0, ge=0, description="seconds between SIGTERM and SIGKILL on timeout")


class LocalExecutor(Executor):
    """Runs each submitted task to completion before returning its (done) future."""

    Options = LocalOptions

    def __init__(self, kill_grace: float = 0.0) -> None:
        self.kill_grace = kill_grace

    def submit(self, task: StepTask, step: Step) -> Future[StepResult]:
        runtime = self.runtime
        if runtime is None:
            raise RuntimeError("LocalExecutor.bind(runtime) must be called before submit")
        retry_on = step.retry_on

        def attempt(t: StepTask) -> StepResult:
            if t.timeout is None:
                return execute_attempt(t, step.fn, runtime, retry_on)
            return run_forked(t, step, runtime, self.kill_grace)

        future: Future[StepResult] = Future()
        future.set_result(run_with_retries(task, attempt))
        return future


def run_forked(task: StepTask, step: Step, runtime: WorkerRuntime, kill_grace: float = 0.0) -> StepResult:
    """One attempt in a forked child, killed with its process group on timeout."""
    assert task.timeout is not None
    read_fd, write_fd = os.pipe()
    started = time.time()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.setpgid(0, 0)
            os.close(read_fd)
            result = execute_attempt(task, step.fn, runtime, step.retry_on)
            payload = json.dumps(to_dict(result), default=repr).encode()
            view = memoryview(payload)
            while view:
                view = view[os.write(write_fd, view):]
        except BaseException:  # noqa: BLE001
            code = 70
        finally:
            os._exit(code)
    os.close(write_fd)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child already did it, or already exited
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
    except BaseException:
        _kill_group(pid, 0.0)
        raise
    finally:
        os.close(read_fd)
    if timed_out:
        _kill_group(pid, kill_grace)
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
    _, status = os.waitpid(pid, 0)
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
    payload: dict[str, Any] = json.loads(b"".join(chunks))
    return from_dict(payload, StepResult)


def _kill_group(pid: int, grace: float) -> None:
    """End the child's whole process group and reap the child."""
    try:
        if grace > 0:
            os.killpg(pid, signal.SIGTERM)
            time.sleep(grace)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass

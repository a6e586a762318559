"""The loop a pool worker process runs: receive a step task, send back its result.

A worker is started once and runs many attempts, so the per-step cost is one
small pickled :class:`~flowy.kernel.records.StepTask` each way and no interpreter or
plugin start-up. Outputs never travel over the pipe: the attempt writes them to
the artifact store and the result carries only their URIs and checksums.

Each worker leads its own process group. A timed-out attempt is stopped by
killing that group (the worker and whatever the step started), and a Ctrl-C
typed in the terminal reaches only the orchestrating process, which then ends
the workers itself: it interrupts a busy worker first (SIGINT, a
KeyboardInterrupt here), which sends back what its step had done, then kills
the group. On Linux a worker also asks the kernel to kill it when its
parent dies, so a SIGKILLed orchestrator leaves no workers behind.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
from typing import TYPE_CHECKING, Any

from flowy.run import (
    StepInterrupted,
    die_with_parent,
    execute_attempt,
    retry_types,
    runtime_from_task,
)

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from flowy.kernel.contracts import WorkerRuntime
    from flowy.kernel.records import ComponentSpec, StepTask

_PR_SET_PDEATHSIG = 1


def worker_main(
    conn: Connection,
    inherited: tuple[ComponentSpec, WorkerRuntime] | None,
    close: list[Any],
    parent: int | None = None,
    environ: dict[str, str] | None = None,
) -> None:
    """Serve attempts until the parent sends ``None`` or goes away.

    ``inherited`` is the parent's own runtime when the worker was forked, so a
    task for the same artifact store skips building one; spawned workers build
    theirs from the task (once per process, see :func:`flowy.run.worker.runtime_for`).
    ``close`` are the parent's ends of this worker's and other workers' pipes,
    inherited by fork; closing them keeps end-of-file meaning "the other side is
    gone" (this worker's own copy would otherwise keep it waiting forever once
    the parent died). ``environ`` is the parent's environment for workers that
    did not fork from it (a forkserver's children inherit the server's instead).
    """
    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a step sees KeyboardInterrupt
    for other in close:
        with contextlib.suppress(OSError):
            other.close()
    try:
        _serve(conn, inherited)
    except KeyboardInterrupt:  # interrupted while idle (or while sending): the pool is closing
        return


def _send(conn: Connection, text: str) -> None:
    """Send the parent some output of the running step (before the result, on the same pipe).

    Called from the attempt's forwarding thread only, which is joined before the
    result is sent, so the two never write the pipe at once.
    """
    conn.send(("output", text))


def _serve(conn: Connection, inherited: tuple[ComponentSpec, WorkerRuntime] | None) -> None:
    retry_cache: dict[tuple[str, ...], tuple[type[BaseException], ...]] = {}
    while True:
        try:
            task: StepTask | None = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        if inherited is not None and inherited[0] == task.artifact_store:
            runtime = inherited[1]
        else:
            runtime = runtime_from_task(task)
        key = tuple(task.retry_on)
        if key not in retry_cache:
            try:
                retry_cache[key] = retry_types(task)
            except Exception:  # noqa: BLE001 - an unimportable retry_on type: retry on anything
                retry_cache[key] = (Exception,)
        interrupted = False
        try:
            result = execute_attempt(
                task, None, runtime, retry_cache[key], on_output=functools.partial(_send, conn)
            )
        except StepInterrupted as stopped:  # the run was cancelled: report what it did, end
            result, interrupted = stopped.result, True
        try:
            conn.send(result)
        except (EOFError, OSError):
            return
        if interrupted:
            return

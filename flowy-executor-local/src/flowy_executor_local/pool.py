"""A process pool built for step attempts: resources, timeouts that kill, clean cancel.

``concurrent.futures.ProcessPoolExecutor`` cannot stop one running task (a
timeout there abandons the work and keeps the process busy), breaks the whole
pool when one worker dies, and knows nothing of resources. This pool is small
on purpose:

* Workers are started on demand, up to ``size``, and then reused; a worker that
  is killed (timeout) or dies (segfault, ``os._exit``) is replaced by a fresh one
  on the next attempt that needs it.
* Each attempt first reserves its resources (``cpu`` by default 1, plus any
  resource the executor declares a total for); the totals are never exceeded.
  A request goes ahead of earlier waiting ones only if it fits in what is left
  after setting their needs aside, so a step asking for the whole machine is
  never starved by a stream of small ones, and a CPU step does not wait behind
  one that waits for a GPU.
* An attempt with a timeout waits for its result at most that long, then kills
  the worker's process group and reaps it.
* :meth:`WorkerPool.close` with ``cancel`` first interrupts the busy workers
  (SIGINT, as Ctrl-C would in this process) so each sends back what its step
  printed and logged until then, waits a moment for that, then kills every
  worker group; attempts waiting on them return a cancelled result.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from flowy.kernel import records as R
from flowy.kernel.records import StepResult, StepTask
from flowy.run import (
    forget_group,
    start_watchdog,
    timed_out_result,
    watch_group,
    worker_died_result,
)

from flowy_executor_local._worker import worker_main

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from flowy.kernel.contracts import WorkerRuntime
    from flowy.kernel.records import ComponentSpec


#: Seconds an interrupted worker has to send back its step's partial result.
INTERRUPT_GRACE = 3.0


def _forget_parents_forkserver() -> None:
    """In a forked child: multiprocessing's forkserver (one per process) is the parent's.

    The child inherits its pid, socket address and lock, so its first forkserver
    start asks ``waitpid`` about a process that is not its child and fails with
    ``ChildProcessError`` (seen: the runs of ``pipeline.sweep()``, forked from a
    process that had run steps with the forkserver). Forget it, closing the child's
    copy of the pipe that keeps the parent's server alive, so the child starts its own.
    """
    from multiprocessing import forkserver

    server: Any = getattr(forkserver, "_forkserver", None)
    if server is None or getattr(server, "_forkserver_pid", None) is None:
        return
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:
        with contextlib.suppress(OSError):
            os.close(alive)
    server._forkserver_address = None
    server._forkserver_alive_fd = None
    server._forkserver_pid = None
    server._inherited_fds = None
    server._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parents_forkserver)


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def reap_group(self, timeout: float) -> None:
        """The worker ended by itself: kill what its steps left in its group, then reap it.

        The group is killed while the worker is an unreaped zombie (waited for,
        up to ``timeout`` seconds, without reaping), so its id is still ours;
        the worker's own exit status is kept for the report.
        """
        deadline = time.monotonic() + timeout
        while hasattr(os, "WNOWAIT") and time.monotonic() < deadline:
            try:
                if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                    break
            except ChildProcessError:  # already reaped
                break
            time.sleep(0.01)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.join(timeout)

    def kill(self) -> None:
        """SIGKILL the worker's whole process group, then reap the worker."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)  # in case it had not yet made its group
        forget_group(self.pid)  # SIGKILLed: nothing of the group can outlive it now
        self.process.join(5)
        with contextlib.suppress(OSError):
            self.conn.close()


def resource_needs(task: StepTask, totals: Mapping[str, float]) -> dict[str, float]:
    """What an attempt reserves: ``cpu`` (default 1) and any resource with a declared total.

    A request larger than the total is clamped to it (the step then runs alone
    rather than never), and resources the executor declares no total for are
    not limited.
    """
    needs = {"cpu": 1.0}
    for name, value in task.resources.items():
        if name in totals:
            needs[name] = float(value)
    return {name: min(max(v, 0.0), totals[name]) for name, v in needs.items() if name in totals}


class WorkerPool:
    """Worker processes plus the resource ledger that decides who may run now."""

    def __init__(
        self,
        size: int,
        totals: Mapping[str, float],
        start_method: str,
        inherited: tuple[ComponentSpec, WorkerRuntime] | None = None,
    ) -> None:
        self.size = size
        self.totals = dict(totals)
        self.free = dict(totals)
        self._ctx: Any = multiprocessing.get_context(start_method)
        if start_method == "forkserver":  # the server imports the worker loop once, for all
            self._ctx.set_forkserver_preload(["flowy_executor_local._worker"])
        self._inherited = inherited if start_method == "fork" else None
        self._cond = threading.Condition()
        self._queue: deque[tuple[object, dict[str, float]]] = deque()
        self._idle: list[_Worker] = []
        self._live: set[_Worker] = set()
        self._starting = 0
        self._start_lock = threading.Lock()
        self.closed = False
        start_watchdog()  # now, before attempt threads fork workers (flowy.run.groupwatch)

    # -- reservations --------------------------------------------------------

    @contextlib.contextmanager
    def reserve(self, needs: Mapping[str, float]) -> Iterator[bool]:
        """Hold ``needs`` for the block; yields False when the pool closed while waiting."""
        entry = (object(), dict(needs))
        with self._cond:
            self._queue.append(entry)
            while not self.closed and not self._may_go(entry):
                self._cond.wait()
            self._queue.remove(entry)
            granted = not self.closed
            if granted:
                for k, v in needs.items():
                    self.free[k] -= v
            self._cond.notify_all()
        try:
            yield granted
        finally:
            if granted:
                with self._cond:
                    for k, v in needs.items():
                        self.free[k] += v
                    self._cond.notify_all()

    def _may_go(self, entry: tuple[object, dict[str, float]]) -> bool:
        """Whether ``entry`` fits in what is free once earlier waiters' needs are set aside.

        Setting those aside means a big request is never starved by small ones
        behind it, while a step that competes for nothing they lack (a CPU step
        behind one waiting for a GPU) still starts at once.
        """
        available = dict(self.free)
        for earlier in self._queue:
            if earlier is entry:
                break
            for k, v in earlier[1].items():
                available[k] = available.get(k, 0.0) - v
        return all(available.get(k, 0.0) + 1e-9 >= v for k, v in entry[1].items())

    # -- workers -------------------------------------------------------------

    def _checkout(self) -> _Worker | None:
        with self._cond:
            while not self.closed:
                if self._idle:
                    return self._idle.pop()
                if len(self._live) + self._starting < self.size:
                    self._starting += 1
                    break
                self._cond.wait()
            else:
                return None
        try:
            worker = self._start()
        finally:
            with self._cond:
                self._starting -= 1
        with self._cond:
            self._live.add(worker)
            if self.closed:
                worker.kill()
                self._live.discard(worker)
                return None
        return worker

    def _start(self) -> _Worker:
        # One start at a time: a worker forked while another's pipe is half made
        # would hold that pipe's child end open and hide its end-of-file.
        with self._start_lock:
            parent_end, child_end = self._ctx.Pipe(duplex=True)
            forked = self._ctx.get_start_method() == "fork"
            with self._cond:
                others = [parent_end, *(w.conn for w in self._live)] if forked else []
            process = self._ctx.Process(
                target=worker_main,
                # A forkserver child has the server's environment from when it started,
                # not this process's now: send it (credentials set later must reach it).
                args=(
                    child_end,
                    self._inherited,
                    others,
                    os.getpid() if forked else None,
                    None if forked else dict(os.environ),
                ),
                name="flowy-worker",
                daemon=True,
            )
            process.start()
            child_end.close()
        assert process.pid is not None
        with contextlib.suppress(OSError):
            os.setpgid(process.pid, process.pid)
        # If this process dies, a watchdog kills the group: the kernel ends the worker
        # itself (die_with_parent), but not what its step started.
        watch_group(process.pid)
        return _Worker(process, parent_end)

    def _checkin(self, worker: _Worker, healthy: bool) -> None:
        with self._cond:
            if healthy and not self.closed:
                self._idle.append(worker)
            else:
                self._live.discard(worker)
            self._cond.notify_all()
        if not healthy:
            worker.kill()

    # -- attempts ------------------------------------------------------------

    def run_attempt(
        self,
        task: StepTask,
        report_output: Callable[[StepTask, str], None] | None = None,
    ) -> StepResult:
        """Run one attempt of ``task`` in a worker, honouring resources and timeout.

        While the step runs, the worker sends ``("output", text)`` messages (what it
        printed, batched: see :mod:`flowy.run.live_output`) before its result; each
        goes to ``report_output`` (the runtime's), or nowhere without one.
        """
        with self.reserve(resource_needs(task, self.totals)) as granted:
            worker = self._checkout() if granted else None
            if worker is None:
                return cancelled_result(task)
            started = time.time()
            healthy = False
            try:
                worker.conn.send(task)
                deadline = None if task.timeout is None else time.monotonic() + task.timeout
                while True:
                    if deadline is not None and not worker.conn.poll(
                        max(0.0, deadline - time.monotonic())
                    ):
                        return timed_out_result(task, started)
                    message = worker.conn.recv()
                    if isinstance(message, tuple):  # ("output", text): the step still runs
                        _report(report_output, task, message[1])
                        continue
                    result: StepResult = message
                    healthy = True
                    return result
            except (EOFError, OSError):
                if self.closed:
                    return cancelled_result(task)
                worker.reap_group(1.0)
                return died_result(task, started, worker.process.exitcode)
            finally:
                self._checkin(worker, healthy)

    def close(self, cancel: bool = False, grace: float = INTERRUPT_GRACE) -> None:
        """Stop the workers: politely when idle, by SIGKILL to their groups with ``cancel``.

        With ``cancel``, busy workers are interrupted first and get up to
        ``grace`` seconds to report their step's partial result (its output,
        metrics, start and stop) before their groups are killed.
        """
        with self._cond:
            self.closed = True
            workers = list(self._live)
            idle = set(self._idle)
            self._idle.clear()
            self._live.clear()
            self._cond.notify_all()
        busy = [w for w in workers if w not in idle]
        for worker in workers:
            if worker in idle and not cancel:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
            elif worker not in idle and cancel:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(worker.pid, signal.SIGINT)  # the worker only, not its group
        deadline = time.monotonic() + (grace if cancel else 2.0)
        for worker in busy if cancel else workers:
            if cancel or worker in idle:
                worker.process.join(max(0.0, deadline - time.monotonic()))
        for worker in workers:
            worker.kill()

    def pids(self) -> list[int]:
        """The worker processes alive now (for tests and diagnostics)."""
        with self._cond:
            return [w.pid for w in self._live]


def _report(
    report_output: Callable[[StepTask, str], None] | None, task: StepTask, text: str
) -> None:
    """Hand a worker's output on; the run's live view failing never fails the attempt."""
    if report_output is None:
        return
    try:
        report_output(task, text)
    except Exception as exc:  # noqa: BLE001
        warnings.warn(
            f"showing the output of step {task.step!r} while it runs failed: "
            f"{type(exc).__name__}: {exc}",
            RuntimeWarning,
            stacklevel=2,
        )


def died_result(task: StepTask, started: float, exitcode: int | None) -> StepResult:
    how = (
        f"was killed by signal {-exitcode}"
        if exitcode is not None and exitcode < 0
        else f"exited with code {exitcode}"
    )
    return worker_died_result(task, started, how)


def cancelled_result(task: StepTask) -> StepResult:
    now = time.time()
    return StepResult(
        step=task.step,
        status=R.CANCELLED,
        started_at=now,
        finished_at=now,
        error="run cancelled",
        retryable=False,
    )

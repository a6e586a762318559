"""Running a sweep's combinations: one forked worker process per slot, each running many runs.

Why processes that each run many runs, and not a thread per run or a ``flowy
run`` per combination:

* A thread per run shares one process: steps that run in the orchestrating
  process (a chain on the ``local`` executor) send ``sys.stdout`` to their log
  with ``contextlib.redirect_stdout``, which is process-wide, so two runs
  overlapping in threads would mix their logs (and could leave ``sys.stdout``
  pointing at a finished step's log); CPU-bound steps would also share one GIL.
* A ``flowy run`` per combination pays the interpreter's and Flowy's start-up
  (about 0.5 s) for every run: a 20-point sweep of trivial runs would spend
  more time starting than running (``benchmarks/sweep.py``).
* A worker forked from the process that loaded the pipeline starts in
  milliseconds with everything imported, runs one run at a time in its own
  main thread (where signals and cancel requests work as in ``flowy run``), and
  takes the next combination when done: per-run cost is the engine's own.

The parent talks to each worker over a pipe: it sends ``(index, params)`` or
``None`` (stop); the worker answers with events (see :class:`Event`). The
parent has no thread of its own while it forks (fork copies only the calling
thread), and its :func:`multiprocessing.connection.wait` also watches each
worker's sentinel, so a worker that dies (killed, out of memory) fails only the
combination it held.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection, wait
from typing import Any

import attrs

from flowy.kernel.markers import hookimpl
from flowy.run import fork_streams  # noqa: F401 - fresh std streams in each forked worker

#: Seconds cancelled workers get to end on their own before each is interrupted (see
#: :meth:`WorkerPool.close`).
CANCEL_GRACE = 3.0

#: Event kinds a run sends: started (run id known), shared (its shared steps are settled), done.
STARTED, SHARED, DONE = "started", "shared", "done"


@attrs.frozen
class Event:
    """What one combination's run did: ``kind`` with the run id, status and error when known."""

    kind: str
    index: int
    run_id: str | None = None
    status: str | None = None
    error: str | None = None


#: Runs one combination in this process: (index, params, report) -> (run id, status, error).
RunOne = Callable[[int, Mapping[str, Any], Callable[[Event], None]], Event]


class SharedWatch:
    """A plugin for one run: reports its id, then when every shared step has settled.

    Settled means completed, cached, skipped or failed: after that the other
    combinations find the shared steps' outputs in the cache (or would fail alike).
    """

    def __init__(self, index: int, shared: set[str], report: Callable[[Event], None]) -> None:
        self.index = index
        self.left = set(shared)
        self.report = report
        self.run_id: str | None = None
        self.told = False

    def _settled(self, step: str) -> None:
        self.left.discard(step)
        if not self.left and not self.told:
            self.told = True
            self.report(Event(SHARED, self.index, self.run_id))

    @hookimpl
    def flowy_pipeline_started(self, run: Any) -> None:
        self.run_id = run.run_id
        self.report(Event(STARTED, self.index, run.run_id))
        if not self.left:
            self._settled("")

    @hookimpl
    def flowy_step_finished(self, run: Any, task: Any, result: Any) -> None:
        self._settled(task.step)

    @hookimpl
    def flowy_step_failed(self, run: Any, task: Any, result: Any) -> None:
        self._settled(task.step)  # the others would fail alike or run it again: no use waiting

    @hookimpl
    def flowy_step_cached(self, run: Any, task: Any, entry: Any) -> None:
        self._settled(task.step)

    @hookimpl
    def flowy_step_skipped(self, run: Any, step: str, reason: str) -> None:
        self._settled(step)


def can_fork() -> bool:
    """Whether workers can be forked here (Linux; fork is unsafe on macOS, absent on Windows)."""
    import sys

    return sys.platform.startswith("linux") and hasattr(os, "fork")


def _worker(conn: Connection, run_one: RunOne) -> None:
    """A worker's loop: run each combination it is sent until told to stop."""
    try:
        while True:
            job = conn.recv()
            if job is None:
                return
            index, params = job
            try:
                done = run_one(index, params, conn.send)
            except KeyboardInterrupt:
                conn.send(Event(DONE, index, None, "cancelled", "interrupted"))
                return
            except BaseException as exc:  # noqa: BLE001 - a setup error: this combination fails
                error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                done = Event(DONE, index, None, "failed", error)
            conn.send(done)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return
    finally:
        conn.close()


class WorkerPool:
    """``size`` forked workers; :meth:`give` hands one a combination, :meth:`events` listens."""

    def __init__(self, size: int, run_one: RunOne) -> None:
        ctx = multiprocessing.get_context("fork")
        self.workers: list[tuple[Any, Connection]] = []
        self.busy: dict[int, int] = {}  # worker slot -> combination index
        for _ in range(size):
            parent, child = ctx.Pipe()
            # Not a daemon: a run may start a process pool of its own (the local executor).
            # A worker whose parent is gone ends at its next recv (EOF), its run recorded.
            proc = ctx.Process(target=_worker, args=(child, run_one), daemon=False)
            proc.start()
            child.close()
            self.workers.append((proc, parent))
        self.dead: set[int] = set()

    def idle(self) -> list[int]:
        return [s for s in range(len(self.workers)) if s not in self.busy and s not in self.dead]

    def give(self, slot: int, index: int, params: Mapping[str, Any]) -> None:
        self.busy[slot] = index
        self.workers[slot][1].send((index, dict(params)))

    def events(self) -> list[Event]:
        """Wait for the next events; a worker that died yields a failed ``done`` for its job."""
        live = [s for s in range(len(self.workers)) if s not in self.dead]
        handles: dict[Any, int] = {}
        for s in live:
            proc, conn = self.workers[s]
            handles[conn] = s
            handles[proc.sentinel] = s
        out: list[Event] = []
        for ready in wait(list(handles)):
            slot = handles[ready]
            proc, conn = self.workers[slot]
            if ready is conn or conn.poll():
                try:
                    while conn.poll():
                        event = conn.recv()
                        out.append(event)
                        if event.kind == DONE:
                            self.busy.pop(slot, None)
                    continue
                except (EOFError, OSError):
                    pass
            if slot in self.dead:
                continue
            proc.join(timeout=5)
            self.dead.add(slot)
            if slot in self.busy:
                index = self.busy.pop(slot)
                code = proc.exitcode
                out.append(
                    Event(
                        DONE, index, None, "failed", f"its worker process died (exit code {code})"
                    )
                )
        return out

    def close(self, *, cancel: bool = False) -> None:
        """Stop every worker: ask each to stop, or (``cancel``) interrupt it as Ctrl-C would,
        so its run is recorded cancelled, and wait for it to do so."""
        import signal

        live = [
            (proc, conn) for slot, (proc, conn) in enumerate(self.workers) if slot not in self.dead
        ]
        if cancel:
            # Ctrl-C in a terminal interrupts the whole process group, workers included: let
            # them record their runs cancelled first. A second SIGINT while one records would
            # cut that short and leave its run `running` (later marked crashed); only workers
            # the interrupt did not reach (this process was signalled alone) get one.
            deadline = time.monotonic() + CANCEL_GRACE
            for proc, _ in live:
                proc.join(timeout=max(0.0, deadline - time.monotonic()))
        for proc, conn in live:
            try:
                if cancel:
                    if proc.is_alive():
                        os.kill(proc.pid, signal.SIGINT)
                else:
                    conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for proc, conn in self.workers:
            proc.join(timeout=10 if cancel else None)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            conn.close()

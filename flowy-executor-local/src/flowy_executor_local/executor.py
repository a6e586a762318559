"""The ``local`` executor: steps in this process, or in a pool of worker processes.

``max_workers`` chooses the mode. With 1 every step runs in this process, one
at a time, in dependency order (no start-up cost, steps may be defined
anywhere, even inside a function). With more (the default is the machine's CPU
count) steps whose upstream steps are done run concurrently in worker
processes (:mod:`flowy_executor_local.pool`); a DAG with no parallel branches
simply keeps one worker busy. Steps a worker cannot import (defined inside a
function, or in a ``python -c`` string under ``spawn``) run in this process
instead, one at a time, still counted against the resources.

Timeouts really stop the step in both modes. In this process, a step *with* a
timeout runs each attempt in a forked child in its own process group; in a
pool, each worker is its own process group. On overrun the whole group is
killed with SIGKILL, so the step and any process it started stop, and the
attempt is reported timed out (and retried if retries remain). Children write
outputs to the artifact store themselves and send back only the small result.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

import attrs
from flowy.kernel.contracts import Executor, LazyOptions
from flowy.kernel.records import StepRef, StepResult, StepTask
from flowy.run import children_watched, execute_attempt, run_attempt_forked, run_with_retries

from flowy_executor_local.pool import WorkerPool, cancelled_result, resource_needs

if TYPE_CHECKING:
    from flowy.kernel.contracts import LiveStep, WorkerRuntime

StartMethod = Literal["fork", "forkserver", "spawn"]


#: Libraries whose thread pools do not survive ``fork``: a worker forked from a
#: process that imported one of them can deadlock in its first call into it.
FORK_UNSAFE = ("tensorflow", "torch", "jax", "mxnet")


@functools.cache
def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def default_start_method() -> StartMethod:
    """``fork`` where it is safe: fast, and workers inherit ``__main__`` and loaded files.

    Not on macOS or Windows, and not once a library in :data:`FORK_UNSAFE` is
    imported here: then ``forkserver`` (Linux) or ``spawn`` start clean workers.
    """
    if not sys.platform.startswith("linux"):
        return "spawn"
    if any(name in sys.modules for name in FORK_UNSAFE):
        return "forkserver"
    return "fork"


class LocalExecutor(Executor):
    """Sequential in-process execution, or a resource-aware worker pool (see the module)."""

    Options = LazyOptions("flowy_executor_local.options:LocalOptions")

    def __init__(
        self,
        max_workers: int | None = None,
        start_method: StartMethod | None = None,
        resources: dict[str, float] | None = None,
        kill_grace: float = 0.0,
    ) -> None:
        self.auto_workers = max_workers is None
        self.max_workers = max_workers or os.cpu_count() or 1
        self.requested_start_method = start_method
        self.start_method: StartMethod = start_method or default_start_method()
        self.kill_grace = kill_grace
        self.totals = {**(resources or {}), "cpu": float(self.max_workers)}
        self._pool: WorkerPool | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._in_process = threading.Lock()
        self._stop = threading.Event()
        self._forked: set[int] = set()

    @property
    def parallel(self) -> bool:
        return self.max_workers > 1

    def plan(self, width: int) -> None:
        """With the default ``max_workers``, use no more workers than the DAG can keep busy.

        A chain (width 1) then runs in this process, with no worker start-up or
        hand-off per step; a DAG with parallel branches gets up to one worker per core.
        """
        if self.auto_workers:
            self.max_workers = max(1, min(os.cpu_count() or 1, width))
            self.totals["cpu"] = float(self.max_workers)

    def capacity(self) -> int:
        return self.max_workers

    def backlog(self) -> int:
        """As many queued elements as workers: each worker's next one waits in the
        thread pool's queue (the sequential mode runs each inside submit: none)."""
        return self.max_workers if self.parallel else 0

    def bind(self, runtime: WorkerRuntime) -> None:
        super().bind(runtime)
        self._stop.clear()

    def submit(self, task: StepTask, step: LiveStep) -> Future[StepResult]:
        runtime = self.runtime
        if runtime is None:
            raise RuntimeError("LocalExecutor.bind(runtime) must be called before submit")
        if not self.parallel:
            future: Future[StepResult] = Future()
            future.set_result(
                run_with_retries(
                    task, self._in_process_attempt(step, runtime), on_retry=runtime.report_retry
                )
            )
            return future
        pool = self._ensure_pool(task, runtime)
        inner = self._in_process_attempt(step, runtime)

        def here(t: StepTask) -> StepResult:
            with pool.reserve(resource_needs(t, self.totals)) as granted, self._in_process:
                return inner(t) if granted else cancelled_result(t)

        attempt: Callable[[StepTask], StepResult] = here
        if self.worker_can_import(task.step_ref) and self._defined_in_its_file(step):
            task = self._with_findable_ref(task)
            attempt = functools.partial(pool.run_attempt, report_output=runtime.report_output)
        assert self._threads is not None
        return self._threads.submit(
            run_with_retries, task, attempt, self._backoff, runtime.report_retry
        )

    def _with_findable_ref(self, task: StepTask) -> StepTask:
        """Give a clean (not forked) worker the file of a module it could not import by name.

        Test files collected with ``--import-mode=importlib`` and modules added to
        ``sys.modules`` by hand have a file but no importable name.
        """
        ref = task.step_ref
        if self.start_method == "fork" or ref.path or _importable(ref.module):
            return task
        path = getattr(sys.modules.get(ref.module), "__file__", None)
        return attrs.evolve(task, step_ref=attrs.evolve(ref, path=path)) if path else task

    def _defined_in_its_file(self, step: LiveStep) -> bool:
        """Whether a clean worker importing the step's module would find this function.

        A function made with ``exec`` (or added to a module at run time) has no
        source in the module's file; only a forked worker, which inherits it,
        can run it.
        """
        if self.start_method == "fork":
            return True
        fn = step.fn
        # A nested pipeline's step with renamed inputs wraps its function: judge that one.
        while getattr(fn, "__code__", None) is None and callable(getattr(fn, "fn", None)):
            fn = fn.fn
        code = getattr(fn, "__code__", None)
        if code is None:
            return True
        if getattr(code, "co_qualname", fn.__qualname__) != fn.__qualname__:
            return False  # defined elsewhere (e.g. in a function), then renamed
        module = sys.modules.get(fn.__module__)
        where = getattr(module, "__flowy_path__", None) or getattr(module, "__file__", None)
        if not where:
            return True
        return bool(os.path.realpath(code.co_filename) == os.path.realpath(where))

    def worker_can_import(self, ref: StepRef) -> bool:
        """Whether a worker process can find this step by its reference."""
        if "<" in ref.qualname:  # <locals>, <lambda>
            return False
        return self.start_method == "fork" or ref.module != "__main__" or bool(ref.path)

    def _in_process_attempt(self, step: LiveStep, runtime: WorkerRuntime) -> Any:
        def attempt(t: StepTask) -> StepResult:
            if t.timeout is None:
                with children_watched():  # what it starts dies with this process
                    return execute_attempt(
                        t,
                        step.fn,
                        runtime,
                        step.retry_on,
                        on_output=functools.partial(runtime.report_output, t),
                    )
            return run_attempt_forked(
                t,
                step.fn,
                runtime,
                step.retry_on,
                kill_grace=self.kill_grace,
                active=self._forked,
                on_output=functools.partial(runtime.report_output, t),
            )

        return attempt

    def _backoff(self, seconds: float) -> None:
        """Sleep between retries, but wake at once when the run is cancelled."""
        self._stop.wait(seconds)

    def _ensure_pool(self, task: StepTask, runtime: WorkerRuntime) -> WorkerPool:
        if self._pool is None or self._pool.closed:
            # Decided now, not at construction: the pipeline's imports are done by now.
            self.start_method = self.requested_start_method or default_start_method()
            self._pool = WorkerPool(
                self.max_workers,
                self.totals,
                self.start_method,
                inherited=(task.artifact_store, runtime),
            )
            self._threads = ThreadPoolExecutor(self.max_workers, thread_name_prefix="flowy-local")
        return self._pool

    def worker_pids(self) -> list[int]:
        """Pids of the live worker processes (empty in sequential mode)."""
        return self._pool.pids() if self._pool is not None else []

    def shutdown(self, cancel: bool = False) -> None:
        """End the pool: at once (SIGKILL to every worker group) with ``cancel``."""
        if cancel:
            self._stop.set()
            for pid in list(self._forked):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        if self._pool is not None:
            self._pool.close(cancel=cancel)
        if self._threads is not None:
            self._threads.shutdown(wait=not cancel, cancel_futures=cancel)
        self._pool = None
        self._threads = None

    def close(self) -> None:
        self.shutdown(cancel=False)

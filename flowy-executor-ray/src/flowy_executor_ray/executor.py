"""The ``ray`` executor: each step task runs as a Ray task.

Flowy does not schedule a cluster itself. The engine submits a step as soon as
its upstream steps are settled; this executor hands the task to Ray with the
step's resources as Ray's (:mod:`flowy_executor_ray.resources`) and Ray picks
the node and worker. The worker-side :func:`flowy_executor_ray._task.run_task`
uses the same :mod:`flowy.run.worker` functions as every executor, reads inputs
from and writes outputs to the stack's artifact store, and streams back what
the run must hear while the step runs (retries, printed output) and then a
small :class:`~flowy.kernel.records.StepResult`; the orchestrating process
stays the only writer of metadata.

Without ``address`` a local Ray instance is started for the run and stopped
after it (:mod:`flowy_executor_ray.connection`). With ``address`` the executor
connects to that cluster; when its nodes are on other machines, workers cannot
see a local artifact folder, so a local store is refused unless the stack says
the folder is shared (``shared_filesystem = true``).

Each submitted task is followed by a coroutine on one event-loop thread of this
executor, which consumes the task's stream and resolves the step's future; so
a thousand tasks in flight cost no thousand threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from flowy.kernel import records as R
from flowy.kernel.contracts import Executor
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import StepResult, StepTask
from pydantic import BaseModel, ConfigDict, Field, model_validator

from flowy_executor_ray.resources import ray_request, unmet

if TYPE_CHECKING:
    from flowy.kernel.contracts import LiveStep, WorkerRuntime

    from flowy_executor_ray.connection import Connection


class RayOptions(BaseModel):
    """Options of the ``ray`` executor (stack ``[executor]`` table or ``--executor-option``)."""

    model_config = ConfigDict(extra="forbid")
    address: str | None = Field(
        None,
        description='cluster address (head host:6379, or "auto"); default: start a local '
        "Ray instance for the run",
    )
    num_cpus: int | None = Field(
        None, ge=1, description="CPUs of the local instance; default: this machine's cores"
    )
    num_gpus: int | None = Field(
        None, ge=0, description="GPUs of the local instance; default: those Ray detects"
    )
    resources: dict[str, str] = Field(
        default_factory=dict,
        description="step resource name -> Ray resource name (others pass unchanged)",
    )
    max_in_flight: int | None = Field(
        None, ge=1, description="tasks submitted at once; default twice the cluster's CPUs"
    )
    shared_filesystem: bool = Field(
        False, description="a local artifact path is on a filesystem every node mounts"
    )
    autoscaling: bool = Field(
        False,
        description="the cluster adds nodes on demand: a step no node can hold yet waits "
        "instead of failing at once",
    )
    init_options: dict[str, Any] = Field(
        default_factory=dict,
        description="more keyword arguments for ray.init (runtime_env, namespace, ...)",
    )

    @model_validator(mode="after")
    def _sizes_only_for_a_local_instance(self) -> RayOptions:
        sized = [n for n in ("num_cpus", "num_gpus") if getattr(self, n) is not None]
        if self.address and sized:
            raise ValueError(
                f"{' and '.join(sized)} size the local Ray instance the executor starts; with "
                f"address = {self.address!r} the cluster's nodes say what they offer. Drop "
                f"{' and '.join(sized)}, or drop the address to start a local instance."
            )
        return self


class RayExecutor(Executor):
    """Submits step tasks to Ray; futures resolve with the workers' step results."""

    Options = RayOptions

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        num_gpus: int | None = None,
        resources: dict[str, str] | None = None,
        max_in_flight: int | None = None,
        shared_filesystem: bool = False,
        autoscaling: bool = False,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.resource_names = dict(resources or {})
        self.max_in_flight = max_in_flight
        self.shared_filesystem = shared_filesystem
        self.autoscaling = autoscaling
        self.init_options = dict(init_options or {})
        self.connection: Connection | None = None
        self._remote: Any = None
        self._nodes: list[dict[str, Any]] = []
        self._cpus = 1.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._refs: dict[int, Any] = {}
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------

    def bind(self, runtime: WorkerRuntime) -> None:
        """Reach Ray (start, connect or reuse), check the store can be shared, start following."""
        super().bind(runtime)
        if self.connection is not None:
            return
        from flowy_executor_ray._task import run_task
        from flowy_executor_ray.connection import alive_nodes, check_shared_store, connect

        connection = connect(self.address, self.num_cpus, self.num_gpus, self.init_options)
        try:
            ray = connection.ray
            self._nodes = alive_nodes(ray)
            check_shared_store(
                [str(n.get("NodeManagerAddress", "")) for n in self._nodes],
                runtime.artifact_store,
                self.shared_filesystem,
                here=ray.util.get_node_ip_address(),
            )
            self._cpus = float(ray.cluster_resources().get("CPU", 1.0))
            # max_retries=0: retries are Flowy's (run_with_retries on the worker), and a task
            # Ray re-ran after a lost worker would start the step's attempts over.
            self._remote = ray.remote(max_retries=0)(run_task)
        except BaseException:
            connection.close()
            raise
        self.connection = connection
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="flowy-ray-follow", daemon=True)
        thread.start()
        self._loop, self._loop_thread = loop, thread

    def capacity(self) -> int:
        return self.max_in_flight or max(int(2 * self._cpus), 2)

    def shutdown(self, cancel: bool = False) -> None:
        """Cancel outstanding tasks (with ``cancel``), then stop following and leave Ray."""
        connection, self.connection = self.connection, None
        if connection is None:
            return
        with self._lock:
            pending = list(self._refs.values())
            self._refs.clear()
        if cancel:
            for ref in pending:  # force: kill the worker, the step and its forked attempt
                with contextlib.suppress(Exception):
                    connection.ray.cancel(ref, force=True)
        loop, thread = self._loop, self._loop_thread
        self._loop = self._loop_thread = None
        if loop is not None and thread is not None:
            if cancel:  # let the followers hear of the cancellation and resolve their futures
                _drain(loop, timeout=5.0)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            if not thread.is_alive():
                loop.close()
        connection.close()

    def close(self) -> None:
        """End of the run: tasks still out are orphans (the engine stopped waiting), so cancel
        them rather than leave them running on a cluster."""
        with self._lock:
            orphans = bool(self._refs)
        self.shutdown(cancel=orphans)

    # -- submitting ------------------------------------------------------------

    def submit(self, task: StepTask, step: LiveStep) -> Future[StepResult]:
        if self.connection is None or self._loop is None:
            raise RuntimeError("RayExecutor.bind(runtime) must be called before submit")
        try:
            request = ray_request(task.step, task.resources, self.resource_names)
        except FlowyError as exc:
            return _settled(_failed(task, f"ResourceError: {exc}"))
        if not self.autoscaling:
            why = unmet(request, self._nodes)
            if why is not None:
                return _settled(
                    _failed(
                        task,
                        f"ResourceError: step {task.step!r} {why}. Start the local instance "
                        "with more (executor options num_cpus, num_gpus), add nodes that offer "
                        "it, map the name with the executor option resources, or set "
                        "autoscaling = true if the cluster adds nodes on demand.",
                    )
                )
        try:
            remote = self._remote.options(name=f"flowy:{task.step}", **request.options())
        except (TypeError, ValueError) as exc:  # Ray refused the request (a reserved name...)
            return _settled(_failed(task, f"ResourceError: Ray refused step {task.step!r}: {exc}"))
        stream = remote.remote(task)
        key = id(stream)
        with self._lock:
            self._refs[key] = stream
        follower = asyncio.run_coroutine_threadsafe(self._follow(task, stream, key), self._loop)
        return follower

    async def _follow(self, task: StepTask, stream: Any, key: int) -> StepResult:
        """Hear the task's events as they come; return its result (never raise)."""
        from ray import exceptions as rex

        from flowy_executor_ray._task import OUTPUT, RESULT, RETRY

        printed: list[str] = []
        started = time.time()
        try:
            async for ref in stream:
                event = await ref
                if event[0] == OUTPUT:
                    printed.append(event[1])
                    self._report(lambda rt, e=event: rt.report_output(task, str(e[1])))
                elif event[0] == RETRY:  # the run's live view marks the next attempt; so do we
                    printed.append(f"--- attempt {event[1].attempts + 1} ---\n")
                    self._report(lambda rt, e=event: rt.report_retry(task, e[1], float(e[2])))
                elif event[0] == RESULT:
                    result: StepResult = event[1]
                    return result
            return _failed(task, f"the Ray task of step {task.step!r} ended without a result")
        except (rex.TaskCancelledError, asyncio.CancelledError):
            return _cancelled(task, started, "".join(printed))
        except rex.RayTaskError as exc:  # Flowy itself failed on the worker
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            return _failed(
                task,
                f"{type(cause).__name__}: {cause} (raised in the Ray worker running step "
                f"{task.step!r}, outside the step)",
                type(cause),
            )
        except rex.RayError as exc:  # a lost worker, node or object
            return _failed(
                task,
                f"WorkerDied: the Ray worker running step {task.step!r} was lost "
                f"({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''})",
                type(exc),
            )
        except Exception as exc:  # noqa: BLE001 - a future must resolve, whatever happened
            return _failed(task, f"{type(exc).__name__}: {exc}", type(exc))
        finally:
            with self._lock:
                self._refs.pop(key, None)

    def _report(self, call: Any) -> None:
        """Hand a report to the run; a view of the run, so its failure never ends the follow."""
        runtime = self.runtime
        if runtime is not None:
            with contextlib.suppress(Exception):
                call(runtime)


def _drain(loop: asyncio.AbstractEventLoop, timeout: float) -> None:
    """Wait (up to ``timeout``) for the loop's followers to finish."""

    async def pending() -> None:
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if others:
            await asyncio.wait(others, timeout=timeout)

    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(pending(), loop).result(timeout + 1)


def _settled(result: StepResult) -> Future[StepResult]:
    future: Future[StepResult] = Future()
    future.set_running_or_notify_cancel()
    future.set_result(result)
    return future


def _cancelled(task: StepTask, started: float, printed: str) -> StepResult:
    """A task cancelled while it ran: what it had printed, as the run heard it."""
    return StepResult(
        step=task.step,
        status=R.CANCELLED,
        started_at=started,
        finished_at=time.time(),
        logs=printed,
        error="run cancelled",
        error_type="builtins.KeyboardInterrupt",
        retryable=False,
    )


def _failed(task: StepTask, error: str, exc_type: type[BaseException] | None = None) -> StepResult:
    now = time.time()
    return StepResult(
        step=task.step,
        status=R.FAILED,
        started_at=now,
        finished_at=now,
        error=error,
        error_type=f"{exc_type.__module__}.{exc_type.__qualname__}" if exc_type else None,
        retryable=False,
    )

"""The ``dask`` executor: each step task runs on a Dask distributed cluster.

Flowy does not schedule a cluster itself. The engine submits a step as soon as
its upstream steps are settled; this executor hands the task to Dask with
``client.submit(run_task, task, pure=False, resources=...)`` and Dask picks
the worker. The worker-side :func:`flowy_executor_dask._task.run_task` uses
the same :mod:`flowy.run.worker` functions as every executor, reads inputs from and
writes outputs to the stack's artifact store, and returns a small
:class:`~flowy.kernel.records.StepResult`; the orchestrating process stays the only
writer of metadata.

Without ``address`` a ``LocalCluster`` with worker processes is started for the
run and closed after it. With ``address`` the executor connects to that
scheduler; when the scheduler is on another machine, workers cannot see a local
artifact folder, so :func:`check_shared_store` refuses a local store unless the
stack says the folder is shared (``shared_filesystem = true``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flowy.kernel import records as R
from flowy.kernel.contracts import ArtifactStore, Executor
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import StepResult, StepTask
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from flowy.kernel.contracts import LiveStep, WorkerRuntime


class DaskOptions(BaseModel):
    """Options of the ``dask`` executor (stack ``[executor]`` table or ``--executor-option``)."""

    model_config = ConfigDict(extra="forbid")
    address: str | None = Field(
        None, description="scheduler address; default: start a LocalCluster for the run"
    )
    n_workers: int | None = Field(None, ge=1, description="LocalCluster workers; default CPU count")
    threads_per_worker: int = Field(1, ge=1, description="LocalCluster threads per worker")
    processes: bool = Field(True, description="LocalCluster workers as processes (not threads)")
    worker_resources: dict[str, float] | None = Field(
        None, description="resources each LocalCluster worker offers; default cpu=threads"
    )
    resources: dict[str, str] = Field(
        default_factory=dict,
        description="step resource name -> Dask worker resource name (others pass unchanged)",
    )
    max_in_flight: int | None = Field(
        None, ge=1, description="tasks submitted at once; default twice the cluster's threads"
    )
    shared_filesystem: bool = Field(
        False, description="a local artifact path is on a filesystem every worker mounts"
    )


def is_local_store(store: ArtifactStore) -> bool:
    """Whether the store's URIs are plain paths on this machine (no remote scheme)."""
    uri = store.uri_for("flowy-probe")
    return "://" not in uri or uri.startswith("file://")


def is_remote_address(address: str) -> bool:
    """Whether a scheduler address points at another machine."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme == "inproc":
        return False
    host = (parts.hostname or "").lower()
    local = {"localhost", "127.0.0.1", "::1", "0.0.0.0", socket.gethostname().lower()}
    with contextlib.suppress(OSError):
        local.add(socket.gethostbyname(socket.gethostname()))
    return host not in local and not host.startswith("127.")


def check_shared_store(address: str | None, store: ArtifactStore, shared_filesystem: bool) -> None:
    """Refuse a remote scheduler with a store its workers cannot reach (a clear FlowyError)."""
    if address and is_remote_address(address) and is_local_store(store) and not shared_filesystem:
        where = store.describe().get("path") or store.uri_for("flowy-probe").rsplit("/", 1)[0]
        raise FlowyError(
            f"The dask executor's scheduler {address} is on another machine, but the stack's "
            f"artifact store is a local folder ({where}) that its workers cannot "
            "read or write. Use a shared artifact store such as s3 (`pip install flowy-aws`, "
            'artifact_store type "s3"), or, if that folder is on a filesystem every worker '
            "mounts at the same path, set the executor option shared_filesystem = true."
        )


class DaskExecutor(Executor):
    """Submits step tasks to Dask; futures resolve with the workers' step results."""

    Options = DaskOptions

    def __init__(
        self,
        *,
        address: str | None = None,
        n_workers: int | None = None,
        threads_per_worker: int = 1,
        processes: bool = True,
        worker_resources: dict[str, float] | None = None,
        resources: dict[str, str] | None = None,
        max_in_flight: int | None = None,
        shared_filesystem: bool = False,
    ) -> None:
        self.address = address
        self.n_workers = n_workers or os.cpu_count() or 1
        self.threads_per_worker = threads_per_worker
        self.processes = processes
        self.worker_resources = (
            {"cpu": float(threads_per_worker)} if worker_resources is None else worker_resources
        )
        self.resource_names = dict(resources or {})
        self.max_in_flight = max_in_flight
        self.shared_filesystem = shared_filesystem
        self.client: Any = None
        self.cluster: Any = None
        self._offered: dict[str, float] = {}
        self._threads = 1
        self._futures: dict[str, Any] = {}
        self._tasks: dict[str, StepTask] = {}
        self._lock = threading.Lock()
        #: The Dask event topic this executor's workers report retries and output on (one per
        #: executor).
        self.retry_topic = f"flowy-retry-{uuid.uuid4().hex}"

    # -- lifecycle -------------------------------------------------------------

    def bind(self, runtime: WorkerRuntime) -> None:
        """Check the store can be shared, then connect to (or start) the cluster."""
        super().bind(runtime)
        check_shared_store(self.address, runtime.artifact_store, self.shared_filesystem)
        if self.client is not None:
            return
        from distributed import Client, LocalCluster

        if self.address:
            self.client = Client(self.address, set_as_default=False)  # type: ignore[no-untyped-call]
        else:
            self.cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=self.n_workers,
                threads_per_worker=self.threads_per_worker,
                processes=self.processes,
                resources=self.worker_resources or None,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
            self.client = Client(self.cluster, set_as_default=False)  # type: ignore[no-untyped-call]
        # Sent before any task, on the same stream, so no worker's retry event predates it.
        self.client.subscribe_topic(self.retry_topic, self._retry_heard)
        self._learn_workers()

    def _retry_heard(self, event: tuple[float, dict[str, Any]]) -> None:
        """A worker's retry or output (on the client's event loop): report it to the run."""
        _, message = event
        with self._lock:
            task = self._tasks.get(message.get("key", ""))
        if task is not None and self.runtime is not None:
            if "output" in message:  # what the step printed while it runs
                with contextlib.suppress(Exception):  # a view: never break the event loop
                    self.runtime.report_output(task, str(message["output"]))
                return
            result = R.from_dict(message["result"], StepResult)
            self.runtime.report_retry(task, result, float(message["delay"]))

    def _learn_workers(self) -> None:
        """Remember the largest amount of each resource one worker offers, and the threads."""
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        offered: dict[str, float] = {}
        threads = 0
        for info in workers.values():
            threads += int(info.get("nthreads", 1))
            for name, amount in (info.get("resources") or {}).items():
                offered[name] = max(offered.get(name, 0.0), float(amount))
        self._offered = offered
        self._threads = max(threads, 1)

    def capacity(self) -> int:
        return self.max_in_flight or max(2 * self._threads, 2)

    def shutdown(self, cancel: bool = False) -> None:
        """Cancel outstanding tasks (with ``cancel``), then close the client and our cluster."""
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if client is not None:
            with self._lock:
                pending = list(self._futures.values())
                self._futures.clear()
                self._tasks.clear()
            if cancel and pending:
                with contextlib.suppress(Exception):
                    client.cancel(pending, force=True)
            with contextlib.suppress(Exception):
                client.close(timeout=5)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=5)

    def close(self) -> None:
        self.shutdown(cancel=False)

    # -- submitting ------------------------------------------------------------

    def dask_resources(self, task: StepTask) -> dict[str, float]:
        """The step's resources under Dask's names; ``cpu`` defaults to 1 where workers offer it."""
        wanted: dict[str, float] = {}
        for name, amount in task.resources.items():
            wanted[self.resource_names.get(name, name)] = float(amount)
        cpu = self.resource_names.get("cpu", "cpu")
        if cpu in self._offered:
            wanted.setdefault(cpu, 1.0)
        return wanted

    def submit(self, task: StepTask, step: LiveStep) -> Future[StepResult]:
        if self.client is None:
            raise RuntimeError("DaskExecutor.bind(runtime) must be called before submit")
        from flowy_executor_dask._task import run_task

        future: Future[StepResult] = Future()
        future.set_running_or_notify_cancel()
        wanted = self.dask_resources(task)
        short = [n for n, v in wanted.items() if self._offered.get(n, 0.0) < v]
        if short:
            offered = ", ".join(f"{k}={v:g}" for k, v in sorted(self._offered.items())) or "none"
            future.set_result(
                _failed(
                    task,
                    f"ResourceError: step {task.step!r} asks for "
                    + ", ".join(f"{n}={wanted[n]:g}" for n in short)
                    + f" but no Dask worker offers that much (largest per worker: {offered}). "
                    "Start workers with `--resources`, set the executor's worker_resources, or map "
                    "the name with the executor option resources.",
                )
            )
            return future
        key = f"flowy-{task.step}-{uuid.uuid4().hex[:12]}"
        with self._lock:
            self._tasks[key] = task
        dask_future = self.client.submit(
            run_task,
            task,
            self.retry_topic,
            key,
            key=key,
            pure=False,
            resources=wanted or None,
            retries=0,
        )
        with self._lock:
            self._futures[key] = dask_future

        def done(finished: Any) -> None:
            with self._lock:
                self._futures.pop(key, None)
                self._tasks.pop(key, None)
            try:
                result: StepResult = finished.result()
            except BaseException as exc:  # noqa: BLE001 - a lost worker or a cancelled task
                result = _failed(task, f"{type(exc).__name__}: {exc}", type(exc))
            if not future.done():
                future.set_result(result)

        dask_future.add_done_callback(done)
        return future


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

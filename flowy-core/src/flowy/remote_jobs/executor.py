"""The shared remote-job executor: one step attempt, one job, on any job service.

Per attempt the orchestrator ships the step's module and writes the step
manifest into the artifact store (:mod:`flowy.remote_jobs.manifest`), starts
the job through the cloud plugin's :class:`~flowy.remote_jobs.backend.JobBackend`,
polls it every ``poll_interval`` seconds (at most ``max_wait`` seconds per
attempt, after which it stops the job and reports ``timed_out``), then reads
the result manifest the job wrote. :func:`flowy.run.run_with_retries` drives
the attempts, so retries, backoff and ``retry_on`` behave as with the local
executor. Jobs never see the metadata store: the engine records the result.

``mode = "local"`` runs the same command, with the same manifest in the same
store, in a local subprocess (:mod:`flowy.remote_jobs.local`).

A cloud plugin subclasses :class:`RemoteJobExecutor` and fills in a few
names and methods; see ``flowy_aws.sagemaker`` for a complete one.
"""

from __future__ import annotations

import functools
import itertools
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
from pydantic import BaseModel, ConfigDict, Field

from flowy.kernel import records as R
from flowy.kernel.contracts import Executor
from flowy.kernel.records import StepResult, StepTask
from flowy.remote_jobs import backend as B
from flowy.remote_jobs import manifest, names
from flowy.remote_jobs.local import LocalJobs
from flowy.run import run_with_retries, timed_out_result

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore, LiveStep, WorkerRuntime
    from flowy.remote_jobs.backend import JobBackend, JobSpec


class RemoteJobError(Exception):
    """A job service or the staging store failed; ``retryable`` when trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class RemoteJobOptions(BaseModel):
    """Stack options every remote-job executor has; a plugin's options extend these.

    A subclass narrows ``mode`` to ``Literal["<service>", "local"]``.
    """

    model_config = ConfigDict(extra="forbid")

    mode: str = "local"
    """``local`` runs the job's entrypoint in a local subprocess instead of the service."""
    max_runtime: int = Field(86_400, ge=1)
    """Stopping condition for steps without a timeout (seconds)."""
    poll_interval: float = Field(15.0, ge=0.01, le=600)
    """Seconds between two status requests for a running job."""
    max_wait: float = Field(172_800.0, gt=0)
    """Seconds one attempt may take from creation (queueing included) before it is stopped."""
    max_parallel_jobs: int = Field(4, ge=1, le=100)
    """Jobs running at once (each is its own machine)."""
    staging_prefix: str = "flowy-jobs"
    """Where manifests, code and results go, under the artifact store's root."""
    job_name_prefix: str = Field("flowy", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,20}$")
    """First part of every job's name."""
    python: str = "python3"
    """The interpreter inside the image."""
    environment: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables for every job."""


class RemoteJobExecutor(Executor):
    """Runs each step attempt as one remote job (or, ``mode = "local"``, one subprocess).

    A subclass sets the class attributes below and implements
    :meth:`make_backend`; it may override :meth:`check_store`,
    :meth:`job_environment` and :meth:`retryable`.
    """

    Options: ClassVar[Any] = RemoteJobOptions
    #: The module run as ``python -m MODULE MANIFEST_URI`` in the job (and locally).
    entrypoint_module: ClassVar[str] = ""
    #: The service's name in messages when no backend exists yet (local mode).
    service: ClassVar[str] = "remote"
    #: Exceptions the backend and the store raise that end an attempt as a failed result
    #: instead of an error of the run; :meth:`retryable` tells which are worth a retry.
    backend_errors: ClassVar[tuple[type[Exception], ...]] = (RemoteJobError,)
    #: Recorded as the error type of failures the executor itself reports.
    failure_type: ClassVar[type[BaseException]] = RemoteJobError
    #: Longest job name the service accepts.
    max_name_length: ClassVar[int] = 63

    def __init__(self, **options: Any) -> None:
        self.options = self.Options(**options)
        self._pool = ThreadPoolExecutor(self.options.max_parallel_jobs, f"flowy-{self.service}")
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._active_jobs: set[str] = set()
        self._local = LocalJobs()
        self._code_cache: dict[str, str] = {}
        self._attempts = itertools.count(1)
        self.store: ArtifactStore | None = None
        self.staging = ""

    # -- what a cloud plugin provides --------------------------------------------

    def make_backend(self) -> JobBackend:
        """The job service client (called once, in remote mode, when the executor binds)."""
        raise NotImplementedError(f"{type(self).__name__} has no remote mode")

    def check_store(self, store: ArtifactStore) -> None:
        """Raise :class:`~flowy.kernel.errors.ConfigError` when jobs cannot use ``store``."""

    def job_environment(self) -> dict[str, str]:
        """Environment variables for every job: where the store is, plus the user's own."""
        return B.as_environment(self.options.environment)

    def retryable(self, exc: Exception) -> bool:
        """Whether a backend or store error is worth another attempt."""
        return bool(getattr(exc, "retryable", False))

    def job_name(self, task: StepTask, attempt: int) -> str:
        return names.job_name(
            self.options.job_name_prefix, task, attempt, max_length=self.max_name_length
        )

    # -- engine interface ----------------------------------------------------------

    @functools.cached_property
    def backend(self) -> JobBackend:
        return self.make_backend()

    @property
    def local(self) -> bool:
        return bool(self.options.mode == "local")

    def capacity(self) -> int:
        return int(self.options.max_parallel_jobs)

    def bind(self, runtime: WorkerRuntime) -> None:
        super().bind(runtime)
        store = runtime.artifact_store
        self.check_store(store)
        self.store = store
        self.staging = manifest.staging_root(store, self.options.staging_prefix)
        if not self.local:
            _ = self.backend  # fail now, not in a worker thread, if the client cannot be set up

    def submit(self, task: StepTask, step: LiveStep) -> Future[StepResult]:
        if self.store is None:
            raise RuntimeError(f"{type(self).__name__}.bind(runtime) must be called before submit")
        report = self.runtime.report_retry if self.runtime is not None else None
        return self._pool.submit(run_with_retries, task, self.attempt, self._sleep, report)

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            self._stopping.set()
            with self._lock:
                handles = list(self._active_jobs)
            for handle in handles:
                self._stop(handle)
            self._local.kill_all()
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)

    def close(self) -> None:
        self.shutdown()

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    # -- one attempt -----------------------------------------------------------------

    def command(self, manifest_uri: str) -> tuple[str, ...]:
        """What the job runs; locally with this interpreter, remotely with ``python``."""
        python = sys.executable if self.local else self.options.python
        return (python, "-m", self.entrypoint_module, manifest_uri)

    def attempt(self, task: StepTask) -> StepResult:
        """One attempt: stage, run (job or subprocess), collect the result."""
        assert self.store is not None
        started = time.time()
        name = self.job_name(task, next(self._attempts))
        handle = name
        try:
            code_uri = manifest.ship_code(self.store, self.staging, task, self._code_cache)
            folder = manifest.attempt_folder(self.staging, task, name)
            manifest_uri, result_uri = manifest.write_manifest(self.store, folder, task, code_uri)
            spec = B.JobSpec(
                name=name,
                task=task,
                manifest_uri=manifest_uri,
                folder=folder,
                command=self.command(manifest_uri),
                environment={"PYTHONUNBUFFERED": "1", **self.job_environment()},
            )
            if self.local:
                early = self._run_local(spec, started)
            else:
                handle = self._submit(spec)
                early = self._watch(task, handle, started)
            result = manifest.read_result(self.store, result_uri)
        except self.backend_errors as exc:
            return failure(task, started, str(exc), type(exc), retryable=self.retryable(exc))
        if early is not None and (result is None or early.status == R.TIMED_OUT):
            return early
        if result is None:
            where = "" if self.local else f"; {self._logs(handle)}"
            return failure(
                task,
                started,
                f"the job for step {task.step!r} finished but wrote no result at "
                f"{result_uri}{where}",
                self.failure_type,
                retryable=True,
            )
        return attrs.evolve(result, step=task.step)

    def _run_local(self, spec: JobSpec, started: float) -> StepResult | None:
        """The job's command in a subprocess; the step's timeout plays the stopping condition."""
        task = spec.task
        outcome = self._local.run(spec.command, spec.environment, task.timeout)
        if outcome.returncode is None:
            return timed_out_result(task, started, f"overran its timeout of {task.timeout:g} s")
        if outcome.returncode != 0:
            return failure(
                task,
                started,
                f"WorkerDied: the entrypoint for step {task.step!r} exited with code "
                f"{outcome.returncode}: {outcome.output[-2000:]}",
                self.failure_type,
                retryable=True,
            )
        return None

    def _submit(self, spec: JobSpec) -> str:
        handle = self.backend.submit(spec)
        with self._lock:
            self._active_jobs.add(handle)
        return handle

    def _watch(self, task: StepTask, handle: str, started: float) -> StepResult | None:
        try:
            return self._poll(task, handle, started)
        finally:
            with self._lock:
                self._active_jobs.discard(handle)

    def _poll(self, task: StepTask, handle: str, started: float) -> StepResult | None:
        """Poll the job to its end; None when it completed (its result says the rest)."""
        service = self.backend.service
        deadline = time.monotonic() + self.options.max_wait
        while True:
            status = self.backend.describe(handle)
            state, detail = status.state, status.detail
            if state == B.COMPLETED:
                return None
            if self._stopping.is_set():  # the run was cancelled (shutdown stopped the job)
                self._stop(handle)
                return failure(
                    task,
                    started,
                    f"run cancelled; stopped job {handle}",
                    self.failure_type,
                    retryable=False,
                )
            if state == B.TIMED_OUT:
                limit = names.max_runtime(task, self.options.max_runtime)
                return timed_out_result(
                    task,
                    started,
                    f"overran its stopping condition ({limit} s, {detail}) and {service} "
                    f"stopped job {handle}; {self._logs(handle)}",
                )
            if state == B.FAILED:
                return failure(
                    task,
                    started,
                    f"JobFailed: {service} job {handle} for step {task.step!r} failed: "
                    f"{detail}; {self._logs(handle)}",
                    self.failure_type,
                    retryable=True,
                )
            if state == B.STOPPED:
                return failure(
                    task,
                    started,
                    f"JobStopped: {service} job {handle} for step {task.step!r} was stopped "
                    f"({detail})",
                    self.failure_type,
                    retryable=False,
                )
            if time.monotonic() >= deadline:
                self._stop(handle)
                return timed_out_result(
                    task,
                    started,
                    f"did not finish within max_wait={self.options.max_wait:g} s (job "
                    f"{handle}, {detail}); the job was stopped",
                )
            self._stopping.wait(self.options.poll_interval)

    def _stop(self, handle: str) -> None:
        try:
            self.backend.stop(handle)
        except Exception:  # noqa: BLE001 - best effort: it may have ended already
            pass

    def _logs(self, handle: str) -> str:
        try:
            return self.backend.logs(handle)
        except Exception as exc:  # noqa: BLE001 - a hint must never hide the failure
            return f"(could not read the job's logs: {exc})"


def failure(
    task: StepTask, started: float, error: str, kind: type[BaseException], *, retryable: bool
) -> StepResult:
    """A failed attempt the executor reports itself (the job gave no result)."""
    return StepResult(
        step=task.step,
        status=R.FAILED,
        started_at=started,
        finished_at=time.time(),
        error=error,
        error_type=f"{kind.__module__}.{kind.__qualname__}",
        retryable=retryable,
    )

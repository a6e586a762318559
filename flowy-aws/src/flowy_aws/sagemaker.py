"""The ``sagemaker`` executor: each step attempt is one SageMaker training job.

Why training jobs (not processing jobs): both run a given image with a given
command, but training jobs add what pipeline steps need: a stopping
condition that SageMaker enforces and reports (``MaxRuntimeExceeded``, our
``timed_out``), warm pools (``keep_alive_seconds``) so consecutive steps skip
instance start-up, managed spot capacity, and per-job metrics in the console.

Per attempt the orchestrator writes the step manifest (and the step's module)
to S3, creates the job, polls ``DescribeTrainingJob`` every ``poll_interval``
seconds (at most ``max_wait`` seconds per attempt, after which it stops the
job and reports ``timed_out``), then reads the result manifest the job wrote.
:func:`flowy.run.worker.run_with_retries` drives the attempts, so retries,
backoff and ``retry_on`` behave as with the local executor. Jobs never see
the metadata store: the engine records the returned result.

``mode = "local"`` runs the same entrypoint, with the same manifest in S3, in
a local subprocess (killed with its process group at the step's timeout), for
development and tests without SageMaker.
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import attrs
from flowy.kernel import records as R
from flowy.kernel.contracts import Executor
from flowy.kernel.errors import ConfigError
from flowy.kernel.records import StepResult, StepTask
from flowy.run import run_with_retries, timed_out_result
from pydantic import BaseModel, ConfigDict, Field, model_validator

from flowy_aws import jobs, staging
from flowy_aws.errors import AwsConnectionError, AwsError, translate

if TYPE_CHECKING:
    from flowy.kernel.contracts import LiveStep, WorkerRuntime

    from flowy_aws.s3_store import S3ArtifactStore

_ROLE = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"


class SageMakerOptions(BaseModel):
    """Stack options of the ``sagemaker`` executor."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["sagemaker", "local"] = "sagemaker"
    """``local`` runs the job's entrypoint in a local subprocess instead."""
    role: str | None = Field(None, pattern=_ROLE)
    """The job's execution role ARN (reads/writes the bucket, writes logs)."""
    image: str | None = None
    """The job's image (ECR URI); it needs Python with flowy-aws and the step's imports."""
    region: str | None = None
    endpoint_url: str | None = None
    """SageMaker API endpoint (VPC endpoint or emulator); default AWS."""
    instance_type: str = "ml.m5.large"
    volume_size_gb: int = Field(30, ge=1, le=16384)
    keep_alive_seconds: int = Field(0, ge=0, le=3600)
    """Warm pool: keep the instance this long for the next step's job."""
    max_runtime: int = Field(86_400, ge=1, le=2_419_200)
    """Stopping condition for steps without a timeout (seconds)."""
    poll_interval: float = Field(15.0, ge=0.01, le=600)
    max_wait: float = Field(172_800.0, gt=0)
    """Seconds one attempt may take from creation (queueing included) before it is stopped."""
    max_parallel_jobs: int = Field(4, ge=1, le=100)
    staging_prefix: str = "flowy-jobs"
    """Where manifests, code and results go, under the artifact store's bucket/prefix."""
    job_name_prefix: str = Field("flowy", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,20}$")
    python: str = "python3"
    """The interpreter inside the image."""
    environment: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    subnets: list[str] = Field(default_factory=list)
    security_group_ids: list[str] = Field(default_factory=list)
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(60.0, gt=0)
    retries: int = Field(4, ge=0, le=20)

    @model_validator(mode="after")
    def _required_for_sagemaker(self) -> SageMakerOptions:
        if self.mode == "sagemaker":
            missing = [n for n in ("role", "image") if not getattr(self, n)]
            if missing:
                raise ValueError(
                    f"{' and '.join(missing)} required when mode = 'sagemaker' (the job's "
                    "execution role ARN and its image URI)"
                )
        return self


class SageMakerExecutor(Executor):
    """Runs each step attempt as a SageMaker training job (or a local subprocess)."""

    Options: ClassVar[Any] = SageMakerOptions

    def __init__(self, **options: Any) -> None:
        self.options = SageMakerOptions(**options)
        self._pool = ThreadPoolExecutor(self.options.max_parallel_jobs, "flowy-sagemaker")
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._active_jobs: set[str] = set()
        self._active_procs: set[subprocess.Popen[bytes]] = set()
        self._code_cache: dict[str, str] = {}
        self._attempts = itertools.count(1)
        self.store: S3ArtifactStore | None = None
        self.staging = ""

    def capacity(self) -> int:
        return self.options.max_parallel_jobs

    def bind(self, runtime: WorkerRuntime) -> None:
        from flowy_aws.s3_store import S3ArtifactStore

        super().bind(runtime)
        store = runtime.artifact_store
        if not isinstance(store, S3ArtifactStore):
            raise ConfigError(
                "The sagemaker executor needs the s3 artifact store in the same stack (jobs read "
                f"inputs and write outputs in S3), but the stack's artifact store is "
                f"{type(store).__name__}. Use `artifact_store = s3` (the `aws` stack does)."
            )
        self.store = store
        self.staging = store.key_uri(self.options.staging_prefix.strip("/") or "flowy-jobs")
        if self.options.mode == "sagemaker":
            _ = self.client  # fail now, not in a worker thread, if boto3 cannot be set up

    @functools.cached_property
    def client(self) -> Any:
        """The SageMaker client: bounded timeouts, standard retries."""
        import boto3
        from botocore.config import Config

        o = self.options
        config = Config(
            connect_timeout=o.connect_timeout,
            read_timeout=o.read_timeout,
            retries={"total_max_attempts": o.retries + 1, "mode": "standard"},
        )
        session = boto3.session.Session(region_name=o.region)
        return session.client("sagemaker", endpoint_url=o.endpoint_url, config=config)

    # -- engine interface ------------------------------------------------------

    def submit(self, task: StepTask, step: LiveStep) -> Future[StepResult]:
        if self.store is None:
            raise RuntimeError("SageMakerExecutor.bind(runtime) must be called before submit")
        report = self.runtime.report_retry if self.runtime is not None else None
        return self._pool.submit(run_with_retries, task, self._attempt, self._sleep, report)

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            self._stopping.set()
            with self._lock:
                names, procs = list(self._active_jobs), list(self._active_procs)
            for name in names:
                self._stop_job(name)
            for proc in procs:
                _kill_group(proc)
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)

    def close(self) -> None:
        self.shutdown()

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    # -- one attempt -------------------------------------------------------------

    def _attempt(self, task: StepTask) -> StepResult:
        assert self.store is not None
        started = time.time()
        attempt = next(self._attempts)
        name = jobs.job_name(self.options.job_name_prefix, task, attempt)
        try:
            code_uri = staging.ship_code(self.store, self.staging, task, self._code_cache)
            folder = staging.attempt_folder(self.staging, task, name)
            manifest_uri, result_uri = staging.write_manifest(self.store, folder, task, code_uri)
            if self.options.mode == "local":
                early = self._run_local(task, manifest_uri, started)
            else:
                early = self._run_job(task, name, manifest_uri, folder, started)
            result = staging.read_result(self.store, result_uri)
        except AwsError as exc:
            return _failure(
                task, started, str(exc), type(exc), retryable=isinstance(exc, AwsConnectionError)
            )
        if early is not None and (result is None or early.status == R.TIMED_OUT):
            return early
        if result is None:
            where = (
                ""
                if self.options.mode == "local"
                else f"; {jobs.logs_hint(name, self.options.region)}"
            )
            return _failure(
                task,
                started,
                f"the job for step {task.step!r} finished but wrote no "
                f"result at {result_uri}{where}",
                AwsError,
                retryable=True,
            )
        return attrs.evolve(result, step=task.step)

    def _environment(self) -> dict[str, str]:
        env = {"FLOWY_AWS_REGION": self.store_region(), "PYTHONUNBUFFERED": "1"}
        endpoint = self.store.options.endpoint_url if self.store else None
        if endpoint:
            env["FLOWY_AWS_ENDPOINT_URL"] = endpoint
        env.update(self.options.environment)
        return {k: v for k, v in env.items() if v}

    def store_region(self) -> str:
        assert self.store is not None
        return self.store.options.region or self.options.region or ""

    def _run_local(self, task: StepTask, manifest_uri: str, started: float) -> StepResult | None:
        """The entrypoint in a subprocess; the step's timeout plays the stopping condition."""
        env = {**os.environ, **self._environment()}
        proc = subprocess.Popen(
            [sys.executable, "-m", "flowy_aws.entrypoint", manifest_uri],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with self._lock:
            self._active_procs.add(proc)
        try:
            out, _ = proc.communicate(timeout=task.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return timed_out_result(task, started, f"overran its timeout of {task.timeout:g} s")
        finally:
            with self._lock:
                self._active_procs.discard(proc)
        if proc.returncode != 0:
            tail = out.decode(errors="replace")[-2000:]
            return _failure(
                task,
                started,
                f"WorkerDied: the entrypoint for step {task.step!r} "
                f"exited with code {proc.returncode}: {tail}",
                AwsError,
                retryable=True,
            )
        return None

    def _run_job(
        self, task: StepTask, name: str, manifest_uri: str, folder: str, started: float
    ) -> StepResult | None:
        """Create the training job and poll it to the end; None when it completed."""
        request = jobs.training_job_request(
            name=name,
            task=task,
            manifest_uri=manifest_uri,
            output_uri=f"{folder}/output",
            options=self.options,
            environment=self._environment(),
        )
        what = f"start the SageMaker job for step {task.step!r}"
        try:
            self.client.create_training_job(**request)
        except Exception as exc:
            raise translate(
                exc, what=what, region=self.options.region, endpoint=self.options.endpoint_url
            ) from exc
        with self._lock:
            self._active_jobs.add(name)
        try:
            return self._poll(task, name, started)
        finally:
            with self._lock:
                self._active_jobs.discard(name)

    def _poll(self, task: StepTask, name: str, started: float) -> StepResult | None:
        deadline = time.monotonic() + self.options.max_wait
        while True:
            try:
                description = self.client.describe_training_job(TrainingJobName=name)
            except Exception as exc:
                raise translate(
                    exc,
                    what=f"poll SageMaker job {name}",
                    region=self.options.region,
                    endpoint=self.options.endpoint_url,
                ) from exc
            state, detail = jobs.job_state(description)
            hint = jobs.logs_hint(name, self.options.region)
            if state == jobs.COMPLETED:
                return None
            if state == jobs.TIMED_OUT:
                return timed_out_result(
                    task,
                    started,
                    f"overran its stopping condition "
                    f"({jobs.max_runtime(task, self.options.max_runtime)} s, "
                    f"{detail}) and SageMaker stopped job {name}; {hint}",
                )
            if state == jobs.FAILED:
                return _failure(
                    task,
                    started,
                    f"JobFailed: SageMaker job {name} for step "
                    f"{task.step!r} failed: {detail}; {hint}",
                    AwsError,
                    retryable=True,
                )
            if state == jobs.STOPPED:
                return _failure(
                    task,
                    started,
                    f"JobStopped: SageMaker job {name} for step "
                    f"{task.step!r} was stopped ({detail})",
                    AwsError,
                    retryable=False,
                )
            if self._stopping.is_set():
                self._stop_job(name)
                return _failure(
                    task, started, f"run cancelled; stopped job {name}", AwsError, retryable=False
                )
            if time.monotonic() >= deadline:
                self._stop_job(name)
                return timed_out_result(
                    task,
                    started,
                    f"did not finish within max_wait="
                    f"{self.options.max_wait:g} s (job {name}, {detail}); the job "
                    "was stopped",
                )
            self._stopping.wait(self.options.poll_interval)

    def _stop_job(self, name: str) -> None:
        try:
            self.client.stop_training_job(TrainingJobName=name)
        except Exception:  # noqa: BLE001 - best effort: it may have ended already
            pass


def _failure(
    task: StepTask, started: float, error: str, kind: type[BaseException], *, retryable: bool
) -> StepResult:
    return StepResult(
        step=task.step,
        status=R.FAILED,
        started_at=started,
        finished_at=time.time(),
        error=error,
        error_type=f"{kind.__module__}.{kind.__qualname__}",
        retryable=retryable,
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """End the entrypoint and everything it started (it leads its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.communicate(timeout=10)
    except (subprocess.TimeoutExpired, ValueError):
        pass

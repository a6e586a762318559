"""The ``sagemaker`` executor: each step attempt is one SageMaker training job.

Why training jobs (not processing jobs): both run a given image with a given
command, but training jobs add what pipeline steps need: a stopping
condition that SageMaker enforces and reports (``MaxRuntimeExceeded``, our
``timed_out``), warm pools (``keep_alive_seconds``) so consecutive steps skip
instance start-up, managed spot capacity, and per-job metrics in the console.

Staging the step manifest in S3, polling ``DescribeTrainingJob`` every
``poll_interval`` seconds (at most ``max_wait`` seconds per attempt, after
which the job is stopped and the attempt ``timed_out``), reading the result
manifest, retries and ``mode = "local"`` (the same entrypoint in a local
subprocess) are the shared :class:`flowy.remote_jobs.RemoteJobExecutor`'s;
this module adds the SageMaker client, the request and the state mapping
(:mod:`flowy_aws.jobs`). Jobs never see the metadata store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from flowy.kernel.errors import ConfigError
from flowy.remote_jobs import JobSpec, JobStatus, RemoteJobExecutor, RemoteJobOptions
from pydantic import Field, model_validator

from flowy_aws import jobs
from flowy_aws.errors import AwsConnectionError, AwsError, translate

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore

_ROLE = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"


class SageMakerOptions(RemoteJobOptions):
    """Stack options of the ``sagemaker`` executor (the shared ones are RemoteJobOptions')."""

    mode: Literal["sagemaker", "local"] = "sagemaker"  # type: ignore[assignment]
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


class SageMakerBackend:
    """Training jobs through boto3: bounded timeouts, standard retries, translated errors."""

    service = "SageMaker"

    def __init__(self, options: SageMakerOptions) -> None:
        import boto3
        from botocore.config import Config

        self.options = options
        config = Config(
            connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout,
            retries={"total_max_attempts": options.retries + 1, "mode": "standard"},
        )
        session = boto3.session.Session(region_name=options.region)
        self.client = session.client("sagemaker", endpoint_url=options.endpoint_url, config=config)

    def _translate(self, exc: Exception, what: str) -> AwsError:
        o = self.options
        return translate(exc, what=what, region=o.region, endpoint=o.endpoint_url)

    def submit(self, spec: JobSpec) -> str:
        request = jobs.training_job_request(
            name=spec.name,
            task=spec.task,
            manifest_uri=spec.manifest_uri,
            output_uri=f"{spec.folder}/output",
            options=self.options,
            environment=dict(spec.environment),
        )
        try:
            self.client.create_training_job(**request)
        except Exception as exc:
            raise self._translate(
                exc, f"start the SageMaker job for step {spec.task.step!r}"
            ) from exc
        return spec.name

    def describe(self, handle: str) -> JobStatus:
        try:
            description = self.client.describe_training_job(TrainingJobName=handle)
        except Exception as exc:
            raise self._translate(exc, f"poll SageMaker job {handle}") from exc
        return jobs.job_status(description)

    def stop(self, handle: str) -> None:
        self.client.stop_training_job(TrainingJobName=handle)

    def logs(self, handle: str) -> str:
        return jobs.logs_hint(handle, self.options.region)


class SageMakerExecutor(RemoteJobExecutor):
    """Runs each step attempt as a SageMaker training job (or a local subprocess)."""

    Options: ClassVar[Any] = SageMakerOptions
    entrypoint_module: ClassVar[str] = "flowy_aws.entrypoint"
    service: ClassVar[str] = "sagemaker"
    backend_errors: ClassVar[tuple[type[Exception], ...]] = (AwsError,)
    failure_type: ClassVar[type[BaseException]] = AwsError

    options: SageMakerOptions

    def make_backend(self) -> SageMakerBackend:
        return SageMakerBackend(self.options)

    @property
    def client(self) -> Any:
        """The SageMaker client (boto3)."""
        backend = self.backend
        assert isinstance(backend, SageMakerBackend)
        return backend.client

    def check_store(self, store: ArtifactStore) -> None:
        from flowy_aws.s3_store import S3ArtifactStore

        if not isinstance(store, S3ArtifactStore):
            raise ConfigError(
                "The sagemaker executor needs the s3 artifact store in the same stack (jobs read "
                f"inputs and write outputs in S3), but the stack's artifact store is "
                f"{type(store).__name__}. Use `artifact_store = s3` (the `aws` stack does)."
            )

    def retryable(self, exc: Exception) -> bool:
        return isinstance(exc, AwsConnectionError)

    def store_region(self) -> str:
        store = self.store
        region = getattr(getattr(store, "options", None), "region", None)
        return region or self.options.region or ""

    def job_environment(self) -> dict[str, str]:
        store = self.store
        endpoint = getattr(getattr(store, "options", None), "endpoint_url", None)
        return {
            k: v
            for k, v in {
                "FLOWY_AWS_REGION": self.store_region(),
                "FLOWY_AWS_ENDPOINT_URL": endpoint or "",
                **self.options.environment,
            }.items()
            if v
        }

"""The ``azureml`` executor: each step attempt is one Azure ML command job.

Why command jobs: a command job runs one command in a given environment
(image) on a given compute target, with a run-time limit Azure ML enforces
(``limits.timeout``, set from the step's ``timeout``) and per-job logs and
metrics in the studio: what one step attempt needs. Pipelines jobs and
sweeps are Flowy's own business (the DAG, the cache, retries).

Staging the step manifest in Blob Storage, polling the job every
``poll_interval`` seconds (at most ``max_wait`` seconds per attempt, after
which it is cancelled and the attempt ``timed_out``), reading the result
manifest, retries and ``mode = "local"`` (the same entrypoint in a local
subprocess) are the shared :class:`flowy.remote_jobs.RemoteJobExecutor`'s;
this module adds the Azure Resource Manager client and
:mod:`flowy_azure.jobs` the request and the state mapping. Jobs never see
the metadata store.

The client is ``azure-core``'s pipeline with an Azure AD token from
``azure.identity``'s ``DefaultAzureCredential`` (``az login``, a service
principal's variables, a managed identity), bounded timeouts and retries;
the heavy ``azure-ai-ml`` SDK is not needed.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlparse

from flowy.kernel.errors import ConfigError
from flowy.remote_jobs import JobSpec, JobStatus, RemoteJobExecutor, RemoteJobOptions, max_runtime
from pydantic import Field, model_validator

from flowy_azure import jobs
from flowy_azure.errors import (
    AzureConnectionError,
    AzureCredentialsError,
    AzureError,
    translate,
)

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore

ARM_CREDENTIALS_FIX = (
    "Azure ML jobs are started with Azure AD only: run `az login`, set AZURE_CLIENT_ID, "
    "AZURE_TENANT_ID and AZURE_CLIENT_SECRET (a service principal), or run where a managed "
    "identity is attached; the identity needs the 'AzureML Data Scientist' role on the workspace."
)
_REQUIRED = ("subscription_id", "resource_group", "workspace", "compute", "aml_environment")


class AzureMLOptions(RemoteJobOptions):
    """Stack options of the ``azureml`` executor (the shared ones are RemoteJobOptions')."""

    mode: Literal["azureml", "local"] = "azureml"  # type: ignore[assignment]
    """``local`` runs the job's entrypoint in a local subprocess instead."""
    subscription_id: str | None = None
    resource_group: str | None = None
    workspace: str | None = Field(None, pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$")
    compute: str | None = None
    """The compute cluster's name (or ``serverless``, with ``instance_type``)."""
    gpu_compute: str | None = None
    """Where steps with ``resources={"gpu": N}`` run (a GPU cluster); default ``compute``."""
    aml_environment: str | None = None
    """The job's Azure ML environment, ``azureml:NAME:VERSION``; it needs Python with
    flowy-azure and the step's imports. (``environment`` holds environment variables, as
    for every remote-job executor.)"""
    instance_type: str | None = None
    """VM size (serverless compute) or instance type (Kubernetes compute)."""
    shm_size: str | None = Field(None, pattern=r"^\d+[bkmg]$")
    """Shared memory of the job's container (``2g``), for PyTorch data loaders."""
    identity: Literal["managed", "user", "aml_token"] = "managed"
    """The identity the job runs as; it needs Storage Blob Data Contributor on the container."""
    experiment_name: str | None = None
    """Azure ML experiment of the jobs; default the pipeline's name."""
    tags: dict[str, str] = Field(default_factory=dict)
    api_version: str = jobs.API_VERSION
    management_endpoint: str = jobs.MANAGEMENT
    """Azure Resource Manager (another cloud's, e.g. ``https://management.usgovcloudapi.net``)."""
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(60.0, gt=0)
    retries: int = Field(4, ge=0, le=20)

    @model_validator(mode="after")
    def _required_for_azureml(self) -> AzureMLOptions:
        if self.mode == "azureml":
            missing = [n for n in _REQUIRED if not getattr(self, n)]
            if missing:
                raise ValueError(
                    f"{', '.join(missing)} required when mode = 'azureml' (the workspace, its "
                    "compute target and the job's environment, `azureml:NAME:VERSION`)"
                )
        if self.aml_environment is not None:
            jobs.environment_id(self.aml_environment, "")  # the format is checked with the stack
        return self


def _local_endpoint(url: str) -> bool:
    return (urlparse(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


class AzureMLBackend:
    """Command jobs through Azure Resource Manager: bounded timeouts, retries, clear errors."""

    service = "Azure ML"

    def __init__(self, options: AzureMLOptions, credential: Any = None) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import (
            BearerTokenCredentialPolicy,
            HeadersPolicy,
            RetryPolicy,
            UserAgentPolicy,
        )

        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self.options = options
        self.endpoint = options.management_endpoint.rstrip("/")
        if not self.endpoint.startswith("https://") and not _local_endpoint(self.endpoint):
            raise ConfigError(
                f"management_endpoint {self.endpoint!r} must be https (Azure AD tokens are "
                "only sent over https; http is allowed for 127.0.0.1 test servers)"
            )
        self.client: Any = PipelineClient(
            base_url=self.endpoint,
            policies=[
                HeadersPolicy({"Accept": "application/json"}),
                UserAgentPolicy("flowy-azure/0.1.0"),
                RetryPolicy(
                    retry_total=options.retries, retry_backoff_factor=0.5, retry_backoff_max=10
                ),
                BearerTokenCredentialPolicy(credential, jobs.SCOPE),
            ],
        )
        self._lock = threading.Lock()
        self._submitted: dict[str, tuple[float, float]] = {}  # name -> (monotonic, limit)
        self._cancelled: set[str] = set()
        self._last: dict[str, dict[str, Any]] = {}

    # -- HTTP ------------------------------------------------------------------

    def _call(self, method: str, path: str, what: str, body: Any = None) -> dict[str, Any]:
        from azure.core.rest import HttpRequest

        o = self.options
        request = HttpRequest(
            method, f"{self.endpoint}{path}", params={"api-version": o.api_version}, json=body
        )
        try:
            response = self.client.send_request(
                request,
                connection_timeout=o.connect_timeout,
                read_timeout=o.read_timeout,
                enforce_https=not _local_endpoint(self.endpoint),
            )
        except Exception as exc:
            from azure.core.exceptions import ClientAuthenticationError

            if isinstance(exc, ClientAuthenticationError):
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise AzureCredentialsError(
                    f"Cannot {what}: no Azure AD token for Azure Resource Manager ({first}). "
                    f"{ARM_CREDENTIALS_FIX}"
                ) from exc
            raise translate(exc, what=what, endpoint=self.endpoint) from exc
        try:
            data = response.json() if response.text() else {}
        except ValueError:
            data = {"error": {"message": response.text()[:500]}}
        if response.status_code >= 400:
            raise self._http_error(response.status_code, data, what)
        return data if isinstance(data, dict) else {}

    def _http_error(self, status: int, data: Any, what: str) -> AzureError:
        o = self.options
        detail = jobs.error_message(data) or f"HTTP {status}"
        where = (
            f"workspace {o.workspace!r} (resource group {o.resource_group!r}, "
            f"subscription {o.subscription_id!r})"
        )
        if status == 401:
            return AzureCredentialsError(
                f"Cannot {what}: Azure rejected the token ({detail}). {ARM_CREDENTIALS_FIX}"
            )
        if status == 403:
            return AzureCredentialsError(
                f"Cannot {what}: the identity may not use {where} ({detail}). Give it the "
                "'AzureML Data Scientist' role on the workspace."
            )
        if status == 404:
            return AzureError(
                f"Cannot {what}: not found ({detail}). Check the executor's subscription_id, "
                "resource_group and workspace options (`az ml workspace show`)."
            )
        if status == 429 or status >= 500:
            return AzureConnectionError(
                f"Cannot {what}: Azure ML kept failing ({detail}) after the configured "
                "retries. It is usually transient: run again, or raise `retries`."
            )
        return AzureError(f"Cannot {what}: Azure ML refused the request ({detail}).")

    # -- JobBackend ----------------------------------------------------------------

    def submit(self, spec: JobSpec) -> str:
        try:
            body = jobs.command_job_request(spec, self.options)
        except ValueError as exc:
            raise AzureError(
                f"Cannot start the Azure ML job for step {spec.task.step!r}: {exc}"
            ) from exc
        self._call(
            "PUT",
            jobs.job_path(self.options, spec.name),
            f"start the Azure ML job for step {spec.task.step!r}",
            body,
        )
        limit = float(max_runtime(spec.task, self.options.max_runtime))
        with self._lock:
            self._submitted[spec.name] = (time.monotonic(), limit)
        return spec.name

    def describe(self, handle: str) -> JobStatus:
        body = self._call("GET", jobs.job_path(self.options, handle), f"poll Azure ML job {handle}")
        with self._lock:
            self._last[handle] = body
            started, limit = self._submitted.get(handle, (time.monotonic(), None))
            cancelled = handle in self._cancelled
        return jobs.job_status(
            body,
            cancel_requested=cancelled,
            timeout=limit,
            elapsed=time.monotonic() - started,
        )

    def stop(self, handle: str) -> None:
        with self._lock:
            self._cancelled.add(handle)
        self._call(
            "POST", f"{jobs.job_path(self.options, handle)}/cancel", f"cancel Azure ML job {handle}"
        )

    def logs(self, handle: str) -> str:
        with self._lock:
            body = self._last.get(handle)
        return jobs.logs_hint(handle, self.options, body)


class AzureMLExecutor(RemoteJobExecutor):
    """Runs each step attempt as an Azure ML command job (or a local subprocess)."""

    Options: ClassVar[Any] = AzureMLOptions
    entrypoint_module: ClassVar[str] = "flowy_azure.entrypoint"
    service: ClassVar[str] = "azureml"
    backend_errors: ClassVar[tuple[type[Exception], ...]] = (AzureError,)
    failure_type: ClassVar[type[BaseException]] = AzureError

    options: AzureMLOptions

    def make_backend(self) -> AzureMLBackend:
        return AzureMLBackend(self.options)

    def check_store(self, store: ArtifactStore) -> None:
        from flowy_azure.blob_store import AzureBlobArtifactStore

        if not isinstance(store, AzureBlobArtifactStore):
            raise ConfigError(
                "The azureml executor needs the azure_blob artifact store in the same stack "
                "(jobs read inputs and write outputs in Blob Storage), but the stack's artifact "
                f"store is {type(store).__name__}. Use `artifact_store = azure_blob` (the "
                "`azure` stack does)."
            )

    def retryable(self, exc: Exception) -> bool:
        return isinstance(exc, AzureConnectionError)

    def job_environment(self) -> dict[str, str]:
        """Where the job finds the store that holds its manifest, plus the user's ``env``."""
        store: Any = self.store
        return {
            k: v
            for k, v in {
                "FLOWY_AZURE_ACCOUNT_NAME": getattr(store, "account", ""),
                "FLOWY_AZURE_ENDPOINT_URL": getattr(store, "endpoint", ""),
                **self.options.environment,
            }.items()
            if v
        }

"""The ``vertex`` executor: each step attempt is one Vertex AI custom job.

A custom job runs a given image with a given command on the machine (and
accelerators) asked for, and enforces ``scheduling.timeout`` (the step's
timeout): what a pipeline step needs. Staging the step manifest in GCS,
polling every ``poll_interval`` seconds (at most ``max_wait`` seconds per
attempt, after which the job is cancelled and the attempt ``timed_out``),
reading the result, retries and ``mode = "local"`` (the same entrypoint in a
local subprocess) are the shared :class:`flowy.remote_jobs.RemoteJobExecutor`'s.
This module adds the Vertex AI REST client and the options; the request and
the state mapping are :mod:`flowy_gcp.vertex_jobs`.

The client is google-auth + requests (``AuthorizedSession``), not
google-cloud-aiplatform: three REST calls (create, get, cancel) do not
justify that SDK's size and its protobuf pin. Credentials come from
Application Default Credentials, as for the ``gcs`` store.
"""

from __future__ import annotations

import functools
import random
import time
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from flowy.kernel.errors import ConfigError
from flowy.remote_jobs import JobSpec, JobStatus, RemoteJobExecutor, RemoteJobOptions
from pydantic import Field, model_validator

from flowy_gcp import vertex_jobs
from flowy_gcp.errors import (
    CREDENTIALS_FIX,
    GcpConnectionError,
    GcpCredentialsError,
    GcpError,
    is_connection_problem,
)

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class VertexOptions(RemoteJobOptions):
    """Stack options of the ``vertex`` executor (the shared ones are RemoteJobOptions')."""

    mode: Literal["vertex", "local"] = "vertex"  # type: ignore[assignment]
    """``local`` runs the job's entrypoint in a local subprocess instead."""
    project: str | None = Field(None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    """The Google Cloud project the jobs run in."""
    region: str | None = Field(None, pattern=r"^[a-z]+-[a-z]+[0-9]+$")
    """The Vertex AI region (``us-central1``, ``europe-west4``...)."""
    image: str | None = None
    """The job's image (Artifact Registry URI); it needs Python with flowy-gcp and the
    step's imports."""
    service_account: str | None = None
    """The service account the job runs as (reads/writes the bucket); default Vertex's."""
    machine_type: str = "n1-standard-4"
    accelerator_type: str | None = None
    """For steps asking for GPUs (``"NVIDIA_TESLA_T4"``, ``"NVIDIA_L4"``...)."""
    boot_disk_type: Literal["pd-ssd", "pd-standard"] = "pd-ssd"
    boot_disk_size_gb: int = Field(100, ge=100, le=64_000)
    network: str | None = None
    """A VPC network (``projects/NUMBER/global/networks/NAME``) to peer the job with."""
    labels: dict[str, str] = Field(default_factory=dict)
    api_endpoint: str | None = None
    """Vertex AI API base URL; default ``https://REGION-aiplatform.googleapis.com``."""
    max_runtime: int = Field(86_400, ge=1, le=604_800)
    """scheduling.timeout for steps without a timeout (seconds; Vertex allows 7 days)."""
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(60.0, gt=0)
    retries: int = Field(4, ge=0, le=20)

    @model_validator(mode="after")
    def _required_for_vertex(self) -> VertexOptions:
        if self.mode == "vertex":
            missing = [n for n in ("project", "region", "image") if not getattr(self, n)]
            if missing:
                raise ValueError(
                    f"{', '.join(missing)} required when mode = 'vertex' (the project and "
                    "region the jobs run in, and their image URI)"
                )
        return self


class VertexBackend:
    """Custom jobs through the Vertex AI REST API (v1)."""

    service = "Vertex AI"

    def __init__(self, options: VertexOptions) -> None:
        self.options = options
        base = options.api_endpoint or f"https://{options.region}-aiplatform.googleapis.com"
        self.base = base.rstrip("/")
        self.parent = f"projects/{options.project}/locations/{options.region}"

    @functools.cached_property
    def session(self) -> Any:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
        from google.auth.transport.requests import AuthorizedSession

        try:
            credentials, _ = google.auth.default(scopes=list(SCOPES))
        except DefaultCredentialsError as exc:
            raise GcpCredentialsError(
                f"Could not start Vertex AI jobs: no Google credentials ({exc}). {CREDENTIALS_FIX}"
            ) from exc
        return AuthorizedSession(credentials)  # type: ignore[no-untyped-call]

    def _call(self, method: str, path: str, what: str, body: Any = None) -> dict[str, Any]:
        """One REST call with bounded timeouts; retried when transient (POSTs only when the
        request surely did not arrive, so a job is never created twice)."""
        import requests

        o = self.options
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method,
                    f"{self.base}/v1/{path}",
                    json=body,
                    timeout=(o.connect_timeout, o.read_timeout),
                )
            except requests.exceptions.ConnectionError as exc:
                safe = method == "GET" or isinstance(exc, requests.exceptions.ConnectTimeout)
                if attempt < o.retries and (safe or "Connection refused" in str(exc)):
                    attempt += 1
                    time.sleep(min(2.0, 0.25 * 2**attempt) * (0.5 + random.random() / 2))
                    continue
                raise self._error(exc, what) from exc
            except Exception as exc:
                raise self._error(exc, what) from exc
            status = response.status_code
            if status < 400:
                return dict(response.json() or {})
            if (status == 429 or (status >= 500 and method == "GET")) and attempt < o.retries:
                attempt += 1
                time.sleep(min(2.0, 0.25 * 2**attempt) * (0.5 + random.random() / 2))
                continue
            raise http_error(status, _message(response), what, o)

    def _error(self, exc: BaseException, what: str) -> GcpError:
        if isinstance(exc, GcpError):
            return exc
        if is_connection_problem(exc):
            o = self.options
            return GcpConnectionError(
                f"Could not {what}: {self.base} did not answer within {o.retries + 1} "
                f"attempt(s) of connect_timeout={o.connect_timeout:g}s / "
                f"read_timeout={o.read_timeout:g}s ({type(exc).__name__}: {exc})."
            )
        if type(exc).__module__.startswith("google.auth"):
            return GcpCredentialsError(
                f"Could not {what}: Google rejected the credentials ({exc}). {CREDENTIALS_FIX}"
            )
        return GcpError(f"Could not {what}: {type(exc).__name__}: {exc}")

    def submit(self, spec: JobSpec) -> str:
        body = vertex_jobs.custom_job_request(
            name=spec.name,
            task=spec.task,
            command=spec.command,
            environment=spec.environment,
            output_uri=f"{spec.folder}/output",
            options=self.options,
        )
        job = self._call(
            "POST",
            f"{self.parent}/customJobs",
            f"start the Vertex AI job for step {spec.task.step!r}",
            body,
        )
        return str(job["name"])

    def describe(self, handle: str) -> JobStatus:
        return vertex_jobs.job_status(self._call("GET", handle, f"poll Vertex AI job {handle}"))

    def stop(self, handle: str) -> None:
        self._call("POST", f"{handle}:cancel", f"cancel Vertex AI job {handle}", {})

    def logs(self, handle: str) -> str:
        return vertex_jobs.logs_hint(handle, self.options.project, self.options.region)


def _message(response: Any) -> str:
    try:
        error = response.json().get("error", {})
        return str(error.get("message") or error.get("status") or response.text[:500])
    except ValueError:
        return str(response.text[:500])


def http_error(status: int, message: str, what: str, options: Any) -> GcpError:
    """A clear error for a Vertex AI answer of ``status``."""
    if status == 401:
        return GcpCredentialsError(
            f"Could not {what}: Google rejected the credentials ({message}). {CREDENTIALS_FIX}"
        )
    if status == 403:
        fix = (
            f"enable the API (`gcloud services enable aiplatform.googleapis.com "
            f"--project={options.project}`)"
            if "has not been used" in message or "disabled" in message
            else "grant the account roles/aiplatform.user on the project"
        )
        return GcpError(f"Could not {what}: permission denied ({message}); {fix}.")
    if status == 404:
        return GcpError(
            f"Could not {what}: not found ({message}). Check the executor's `project` "
            f"({options.project!r}) and `region` ({options.region!r})."
        )
    if status >= 500 or status == 429:
        return GcpConnectionError(f"Could not {what}: Vertex AI answered {status} ({message}).")
    return GcpError(f"Could not {what}: Vertex AI refused the request ({status}: {message}).")


class VertexExecutor(RemoteJobExecutor):
    """Runs each step attempt as a Vertex AI custom job (or a local subprocess)."""

    Options: ClassVar[Any] = VertexOptions
    entrypoint_module: ClassVar[str] = "flowy_gcp.entrypoint"
    service: ClassVar[str] = "vertex"
    backend_errors: ClassVar[tuple[type[Exception], ...]] = (GcpError,)
    failure_type: ClassVar[type[BaseException]] = GcpError
    max_name_length: ClassVar[int] = 128

    options: VertexOptions

    def make_backend(self) -> VertexBackend:
        return VertexBackend(self.options)

    def check_store(self, store: ArtifactStore) -> None:
        from flowy_gcp.gcs_store import GcsArtifactStore

        if not isinstance(store, GcsArtifactStore):
            raise ConfigError(
                "The vertex executor needs the gcs artifact store in the same stack (jobs read "
                f"inputs and write outputs in Cloud Storage), but the stack's artifact store "
                f"is {type(store).__name__}. Use `artifact_store = gcs` (the `gcp` stack does)."
            )

    def bind(self, runtime: Any) -> None:
        super().bind(runtime)
        if not self.local:
            backend = self.backend
            assert isinstance(backend, VertexBackend)
            _ = backend.session  # fail now, not in a worker thread, without credentials

    def retryable(self, exc: Exception) -> bool:
        return isinstance(exc, GcpConnectionError)

    def job_environment(self) -> dict[str, str]:
        """Where the job finds the store that holds its manifest (entrypoint's bootstrap)."""
        options = getattr(self.store, "options", None)
        values = {
            "FLOWY_GCS_ENDPOINT_URL": getattr(options, "endpoint_url", None) or "",
            "FLOWY_GCS_ANONYMOUS": "1" if getattr(options, "anonymous", False) else "",
            "FLOWY_GCS_PROJECT": getattr(options, "project", None) or "",
            **self.options.environment,
        }
        return {k: v for k, v in values.items() if v}

"""``flowy gcp check``: is this project ready for the ``gcp`` stack?

Each check makes the smallest real call that proves one thing (credentials
refresh, the bucket answers and takes a write, the region is one Vertex AI
serves and, with credentials, its API answers) and reports pass, fail or warn
with the fix. Every call has bounded timeouts and at most one retry, so the
whole check ends in seconds even when an endpoint is silent. Kept apart from
the click command so tests and the Python API can call it.
"""

from __future__ import annotations

import secrets
from typing import Any

import attrs
from flowy.kernel.checks import FAIL, PASS, SKIP, WARN, Check

from flowy_gcp.errors import CREDENTIALS_FIX, GcpError

#: Regions where Vertex AI runs custom training jobs.
VERTEX_REGIONS = frozenset(
    [
        "us-central1",
        "us-east1",
        "us-east4",
        "us-east5",
        "us-south1",
        "us-west1",
        "us-west2",
        "us-west3",
        "us-west4",
        "northamerica-northeast1",
        "northamerica-northeast2",
        "southamerica-east1",
        "southamerica-west1",
        "europe-central2",
        "europe-north1",
        "europe-southwest1",
        "europe-west1",
        "europe-west2",
        "europe-west3",
        "europe-west4",
        "europe-west6",
        "europe-west8",
        "europe-west9",
        "europe-west12",
        "me-central1",
        "me-central2",
        "me-west1",
        "asia-east1",
        "asia-east2",
        "asia-northeast1",
        "asia-northeast2",
        "asia-northeast3",
        "asia-south1",
        "asia-southeast1",
        "asia-southeast2",
        "australia-southeast1",
        "australia-southeast2",
        "africa-south1",
    ]
)


@attrs.define
class Settings:
    bucket: str | None = None
    prefix: str = ""
    project: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    anonymous: bool = False
    api_endpoint: str | None = None
    timeout: float = 5.0
    credentials: Any = None


def check_credentials(s: Settings) -> Check:
    if s.anonymous:
        return Check("credentials", WARN, "anonymous: no credentials are sent (emulator, public)")
    import google.auth
    from google.auth.transport.requests import Request

    try:
        credentials, project = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return Check("credentials", FAIL, f"none found ({exc})", CREDENTIALS_FIX)
    try:
        import requests

        session = requests.Session()
        credentials.refresh(Request(session))  # type: ignore[no-untyped-call]
    except Exception as exc:  # noqa: BLE001
        return Check(
            "credentials",
            FAIL,
            f"Google refused them or could not be reached ({type(exc).__name__}: {exc})",
            CREDENTIALS_FIX,
        )
    s.credentials = credentials
    s.project = s.project or project
    who = getattr(credentials, "service_account_email", None) or "user credentials"
    return Check("credentials", PASS, f"{who} (project {project or 'not set'})")


def check_project(s: Settings) -> Check:
    if s.project:
        return Check("project", PASS, s.project)
    return Check(
        "project",
        FAIL,
        "no project configured",
        "set the stack's executor `project` option, or `gcloud config set project ID`",
    )


def check_bucket(s: Settings) -> Check:
    """Reach the bucket, then write, read and delete one small object under the prefix."""
    if not s.bucket:
        return Check("bucket", FAIL, "no bucket configured", "pass --bucket or use --stack")
    from flowy_gcp.gcs_store import GcsArtifactStore

    try:
        store = GcsArtifactStore(
            bucket=s.bucket,
            prefix=s.prefix,
            project=s.project,
            endpoint_url=s.endpoint_url,
            anonymous=s.anonymous,
            connect_timeout=s.timeout,
            read_timeout=s.timeout,
            retries=1,
        )
        uri = store.uri_for(f".flowy-check-{secrets.token_hex(4)}")
        store.write_bytes(uri, b"flowy")
        ok = store.read_bytes(uri) == b"flowy"
        store.delete(uri)
        info = store.fs.call("GET", "b/{}", s.bucket, json_out=True)
    except GcpError as exc:
        return Check("bucket", FAIL, str(exc))
    except Exception as exc:  # noqa: BLE001 - invalid names and the like
        return Check("bucket", FAIL, f"{type(exc).__name__}: {exc}")
    if not ok:
        return Check("bucket", FAIL, f"gs://{s.bucket} returned other bytes than written")
    location = str(info.get("location") or "").lower()
    s_loc = f", location {location}" if location else ""
    detail = f"gs://{s.bucket}/{s.prefix} read/write{s_loc}"
    if s.region and location and "-" in location and location != s.region:
        return Check(
            "bucket",
            WARN,
            f"{detail}: not in the jobs' region {s.region}",
            "jobs will read and write across regions (egress cost, latency); use a bucket "
            f"in {s.region}",
        )
    return Check("bucket", PASS, detail)


def check_region(s: Settings) -> Check:
    if not s.region:
        return Check(
            "region", FAIL, "no region configured", "set the stack's executor `region` option"
        )
    if s.region in VERTEX_REGIONS:
        return Check("region", PASS, f"{s.region} (Vertex AI training)")
    near = sorted(r for r in VERTEX_REGIONS if r.split("-")[0] == s.region.split("-")[0])
    hint = f"; regions there: {', '.join(near)}" if near else ""
    return Check(
        "region",
        FAIL,
        f"{s.region!r} is not a region where Vertex AI runs custom jobs{hint}",
        "set the executor's `region` to one of "
        "https://cloud.google.com/vertex-ai/docs/general/locations",
    )


def check_vertex_api(s: Settings) -> Check:
    """GET the region's location resource: proves the API is enabled and the account may use it."""
    if s.credentials is None or not s.project or not s.region:
        return Check("vertex api", SKIP, "needs credentials, a project and a region")
    from google.auth.transport.requests import AuthorizedSession

    base = s.api_endpoint or f"https://{s.region}-aiplatform.googleapis.com"
    url = f"{base.rstrip('/')}/v1/projects/{s.project}/locations/{s.region}"
    try:
        session = AuthorizedSession(s.credentials)  # type: ignore[no-untyped-call]
        response = session.get(url, timeout=(s.timeout, s.timeout))
    except Exception as exc:  # noqa: BLE001
        return Check("vertex api", FAIL, f"{base} did not answer ({type(exc).__name__}: {exc})")
    if response.status_code < 400:
        return Check("vertex api", PASS, f"projects/{s.project}/locations/{s.region}")
    from flowy_gcp.vertex import _message, http_error

    error = http_error(response.status_code, _message(response), "reach Vertex AI", s)
    return Check("vertex api", FAIL, str(error))


def run_checks(s: Settings) -> list[Check]:
    """Every check in order; without credentials only the region is checked too (the bucket
    and API checks would fail for the same reason)."""
    credentials = check_credentials(s)
    if credentials.status == FAIL:
        return [credentials, check_region(s)]
    if s.anonymous and not s.project:
        project = Check("project", SKIP, "anonymous, and none configured")
    else:
        project = check_project(s)
    return [credentials, project, check_bucket(s), check_region(s), check_vertex_api(s)]

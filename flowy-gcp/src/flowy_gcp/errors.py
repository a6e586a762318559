"""Google Cloud errors turned into Flowy errors that say what is wrong and what to do.

gcsfs, google-auth and aiohttp raise precise errors in their own words
(``HttpError 403``, ``RefreshError: invalid_grant``, ``ClientConnectorError``).
Users of a stack need the bucket, the endpoint and the fix in one paragraph,
and the CLI prints a :class:`~flowy.kernel.errors.FlowyError` without a
traceback, so every call goes through :func:`translate` (the original
exception stays chained).
"""

from __future__ import annotations

import asyncio

from flowy.kernel.errors import FlowyError


class GcpError(FlowyError):
    """A Google Cloud call failed for a reason the user can fix."""


class GcpCredentialsError(GcpError):
    """No usable Google credentials were found, or Google rejected them."""


class GcpBucketError(GcpError):
    """The bucket is missing or not accessible with these credentials."""


class GcpConnectionError(GcpError):
    """The endpoint did not answer within the configured timeouts and retries."""


CREDENTIALS_FIX = (
    "Flowy reads credentials only from Application Default Credentials: run "
    "`gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a "
    "service-account key file, or run where a service account is attached (GCE, GKE, "
    "Vertex AI). Stack files never hold credentials."
)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind ``exc`` (gcsfs HttpError, aiohttp, OSError text), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        for attr in ("code", "status", "status_code"):
            value = getattr(seen, attr, None)
            if isinstance(value, int) and 100 <= value < 600:
                return value
        response = getattr(seen, "response", None)
        code = getattr(response, "status_code", None)
        if isinstance(code, int):
            return code
        if isinstance(seen, OSError) and str(seen).startswith("Forbidden"):
            return 403
        seen = seen.__cause__ or seen.__context__
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in out:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


def is_credentials_problem(exc: BaseException) -> bool:
    for e in _chain(exc):
        module = type(e).__module__
        if module.startswith("google.auth") or type(e).__name__ in (
            "RefreshError",
            "DefaultCredentialsError",
            "TransportError",
        ):
            return True
    return status_of(exc) == 401


def is_connection_problem(exc: BaseException) -> bool:
    for e in _chain(exc):
        name = type(e).__name__
        if isinstance(e, (TimeoutError, asyncio.TimeoutError, ConnectionError)):
            return True
        if name in (
            "ClientConnectorError",
            "ServerDisconnectedError",
            "ClientOSError",
            "ServerTimeoutError",
            "ConnectionError",
            "ConnectTimeout",
            "ReadTimeout",
            "ClientPayloadError",
        ):
            return True
    return False


def translate(
    exc: BaseException,
    *,
    what: str,
    bucket: str | None = None,
    endpoint: str | None = None,
    timeouts: str = "",
) -> GcpError:
    """A :class:`GcpError` subclass for ``exc`` raised while trying to ``what``."""
    if isinstance(exc, GcpError):
        return exc
    where = f" at {endpoint}" if endpoint else ""
    detail = f"{type(exc).__name__}: {exc}".strip()
    status = status_of(exc)
    if is_credentials_problem(exc) and status not in (403, 404):
        return GcpCredentialsError(
            f"Could not {what}: no usable Google credentials ({detail}). {CREDENTIALS_FIX}"
        )
    if status == 404 and bucket:
        return GcpBucketError(
            f"Could not {what}: the bucket {bucket!r} does not exist{where} ({detail}). "
            f"Create it (`gcloud storage buckets create gs://{bucket}`) or fix the stack's "
            "`bucket` option; Flowy never creates buckets."
        )
    if status == 403:
        target = f"bucket {bucket!r}" if bucket else "this resource"
        return GcpBucketError(
            f"Could not {what}: access to {target} is denied for these credentials "
            f"({detail}). Grant the account roles/storage.objectAdmin on the bucket (or "
            "roles/aiplatform.user for Vertex AI), or use other credentials."
        )
    if is_connection_problem(exc):
        budget = f" within {timeouts}" if timeouts else ""
        return GcpConnectionError(
            f"Could not {what}: the endpoint{where or ' (Google Cloud)'} did not answer"
            f"{budget} ({detail}). Check the network, a proxy, or the stack's `endpoint_url`; "
            "raise `connect_timeout`/`read_timeout`/`retries` for a slow link."
        )
    return GcpError(f"Could not {what}: {detail}")

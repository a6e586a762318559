"""AWS errors turned into Flowy errors that say what is wrong and what to do.

botocore's exceptions are precise but speak AWS ("NoSuchBucket", "403",
"Could not connect to the endpoint URL"). Users of a stack need the bucket,
the region, the endpoint and the fix in one paragraph, and the CLI prints a
:class:`~flowy.kernel.errors.FlowyError` without a traceback, so every call into AWS
goes through :func:`translate` (the original exception stays chained).
"""

from __future__ import annotations

from typing import Any

from flowy.kernel.errors import FlowyError


class AwsError(FlowyError):
    """An AWS call failed for a reason the user can fix (credentials, bucket, network)."""


class AwsCredentialsError(AwsError):
    """No usable AWS credentials were found, or AWS rejected them."""


class AwsBucketError(AwsError):
    """The bucket is missing, elsewhere, or not accessible with these credentials."""


class AwsConnectionError(AwsError):
    """The endpoint did not answer within the configured timeouts and retries."""


CREDENTIALS_FIX = (
    "Flowy reads credentials only from the standard AWS chain: set AWS_PROFILE (with "
    "`aws configure` or `aws sso login`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
    "or run where an instance/task role is attached. Stack files never hold credentials."
)


def root_cause(exc: BaseException) -> BaseException:
    """The botocore error under s3fs's translation (s3fs re-raises ClientError as OSError)."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "response", None) is not None or type(seen).__module__.startswith(
            ("botocore", "aiobotocore")
        ):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError (or '' for anything else)."""
    response: Any = getattr(root_cause(exc), "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return str(status or "")
    return ""


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` means "no such key" (404 from GET or HEAD)."""
    return isinstance(exc, FileNotFoundError) or error_code(exc) in ("NoSuchKey", "404", "NotFound")


def translate(
    exc: BaseException,
    *,
    what: str,
    bucket: str | None = None,
    region: str | None = None,
    endpoint: str | None = None,
    timeouts: str = "",
) -> AwsError:
    """A clear :class:`AwsError` for ``exc``, raised while doing ``what``."""
    from botocore import exceptions as be

    where = f"s3://{bucket}" if bucket else "AWS"
    at = f" at {endpoint}" if endpoint else ""
    if isinstance(exc, AwsError):
        return exc
    exc = root_cause(exc)
    if isinstance(exc, be.NoCredentialsError | be.PartialCredentialsError):
        return AwsCredentialsError(
            f"Cannot {what}: no AWS credentials were found. {CREDENTIALS_FIX}"
        )
    if isinstance(exc, be.ProfileNotFound):
        return AwsCredentialsError(f"Cannot {what}: {exc}. {CREDENTIALS_FIX}")
    if isinstance(
        exc,
        be.EndpointConnectionError
        | be.ConnectTimeoutError
        | be.ReadTimeoutError
        | be.ConnectionClosedError
        | TimeoutError
        | ConnectionError,
    ) or type(exc).__name__ in ("FSTimeoutError", "ServerDisconnectedError", "ClientOSError"):
        return AwsConnectionError(
            f"Cannot {what}: the endpoint{at or ' for ' + where} did not answer "
            f"({type(exc).__name__}: {exc}){' within ' + timeouts if timeouts else ''}. Check the "
            "network, the `endpoint_url` and `region` options, and raise `connect_timeout`, "
            "`read_timeout` or `retries` if the link is slow."
        )
    code = error_code(exc)
    if code in (
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredTokenException",
    ):
        return AwsCredentialsError(
            f"Cannot {what}: AWS rejected the credentials ({code}). Refresh them "
            f"(`aws sso login`, new keys) and try again. {CREDENTIALS_FIX}"
        )
    if code in ("NoSuchBucket",) or (code in ("404", "NotFound") and "bucket" in what):
        return AwsBucketError(
            f"Cannot {what}: the bucket {bucket!r} does not exist{at}. Create it "
            f"(`aws s3 mb s3://{bucket}`) or fix the stack's `bucket` option."
        )
    if code in (
        "PermanentRedirect",
        "301",
        "AuthorizationHeaderMalformed",
        "IllegalLocationConstraintException",
    ):
        return AwsBucketError(
            f"Cannot {what}: the bucket {bucket!r} is not in region {region!r} ({code}). Set the "
            "stack's `region` option to the bucket's region (`aws s3api get-bucket-location "
            f"--bucket {bucket}`)."
        )
    if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled"):
        return AwsBucketError(
            f"Cannot {what}: access to {where} was denied ({code}). Grant the credentials' "
            "identity s3:GetObject, s3:PutObject, s3:DeleteObject, s3:ListBucket and "
            "s3:AbortMultipartUpload on the bucket (and kms:GenerateDataKey/kms:Decrypt for "
            "SSE-KMS); `flowy aws check` shows which call fails."
        )
    if code.startswith("5") or code in (
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
    ):
        return AwsConnectionError(
            f"Cannot {what}: {where} kept failing ({code}: {exc}) after the configured retries. "
            "It is usually transient: run again, or raise the `retries` option."
        )
    return AwsError(f"Cannot {what} ({where}{at}): {type(exc).__name__}: {exc}")

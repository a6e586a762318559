"""The ``s3`` artifact store: artifacts as S3 objects, written atomically, streamed.

URIs are ``s3://BUCKET/PREFIX/KEY``: what ``aws s3 cp`` takes. Bytes move
through s3fs's async client (one connection pool, parallel parts and ranges;
see :mod:`flowy_aws.s3_io`); checksums are the core's (BLAKE3 computed while
streaming, verified on every read), as for the local store.

Credentials come only from the standard AWS chain (environment, profile, SSO,
instance or task role): there is deliberately no option for keys, so no stack
file can hold one. Every call is bounded: ``connect_timeout`` and
``read_timeout`` per request, ``retries`` attempts more (botocore's
``standard`` retry mode, which retries throttling, 5xx and dropped
connections with jittered backoff).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar, Literal

from flowy.kernel.contracts import ArtifactStore
from flowy.kernel.errors import ArtifactNotFoundError, ConfigError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from flowy_aws.errors import AwsBucketError, AwsError, is_not_found, translate
from flowy_aws.s3_io import MultipartWriter, RangeReader

MIB = 1024 * 1024
#: S3's smallest part (all but the last part of a multipart upload).
MIN_PART = 5 * MIB


class S3Options(BaseModel):
    """Stack options of the ``s3`` artifact store (validated when a stack is checked)."""

    model_config = ConfigDict(extra="forbid")

    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")
    """The bucket; it must exist (Flowy never creates buckets)."""
    prefix: str = ""
    """Key prefix under which artifacts are stored (``team/project``)."""
    region: str | None = None
    """The bucket's region; default from the AWS chain (AWS_REGION, profile)."""
    endpoint_url: str | None = None
    """For S3-compatible stores (MinIO, Ceph, an emulator); default AWS."""
    sse: Literal["AES256", "aws:kms"] | None = None
    """Server-side encryption for new objects; None uses the bucket's default."""
    sse_kms_key_id: str | None = None
    """The KMS key (id, alias or ARN) when ``sse = "aws:kms"``."""
    bucket_key: bool = False
    """Use an S3 Bucket Key with SSE-KMS (fewer, cheaper KMS calls)."""
    connect_timeout: float = Field(5.0, gt=0)
    """Seconds to wait for a connection, per attempt."""
    read_timeout: float = Field(60.0, gt=0)
    """Seconds to wait for a response (or the next bytes of one), per attempt."""
    retries: int = Field(4, ge=0, le=20)
    """Attempts after the first, for throttling, 5xx and dropped connections."""
    multipart_threshold: int = Field(8 * MIB, ge=MIN_PART)
    """Objects at least this large are uploaded in parts."""
    chunk_size: int = Field(8 * MIB, ge=MIN_PART, le=5 * 1024 * MIB)
    """Part size for uploads and range size for downloads."""
    concurrency: int = Field(8, ge=1, le=64)
    """Parts (or ranges) in flight at once per artifact; memory is about (this + 1) x chunk."""
    check_bucket: bool = True
    """Check at start-up that the bucket exists, is reachable and is in ``region``."""

    @model_validator(mode="after")
    def _kms(self) -> S3Options:
        if self.sse_kms_key_id and self.sse != "aws:kms":
            raise ValueError('sse_kms_key_id needs sse = "aws:kms"')
        return self


class S3ArtifactStore(ArtifactStore):
    """Artifact bytes in an S3 bucket (see the module docstring)."""

    Options: ClassVar[Any] = S3Options

    def __init__(self, **options: Any) -> None:
        self.options = S3Options(**options)
        self.bucket = self.options.bucket
        self._fs: Any = None
        self._fs_pid = 0
        self.prefix = self.options.prefix.strip("/")
        if ".." in self.prefix.split("/"):
            raise ConfigError(f"s3 artifact store: prefix {self.prefix!r} must not contain '..'")
        if self.options.check_bucket:
            self.check_bucket()

    # -- clients -------------------------------------------------------------

    @property
    def fs(self) -> Any:
        """The s3fs filesystem (built on first use in each process).

        Executors may fork workers after the store was built (a process pool);
        s3fs's client and event loop do not survive a fork, so a forked child
        builds its own.
        """
        pid = os.getpid()
        if self._fs is None or self._fs_pid != pid:
            self._fs, self._fs_pid = self._make_fs(), pid
        return self._fs

    def _make_fs(self) -> Any:
        import s3fs

        o = self.options
        fs = s3fs.S3FileSystem(
            anon=False,
            endpoint_url=o.endpoint_url,
            client_kwargs={"region_name": o.region} if o.region else {},
            config_kwargs={
                "connect_timeout": o.connect_timeout,
                "read_timeout": o.read_timeout,
                "retries": {"total_max_attempts": o.retries + 1, "mode": "standard"},
                "max_pool_connections": max(10, 2 * o.concurrency),
            },
            use_listings_cache=False,
            skip_instance_cache=True,
        )
        # botocore does the (bounded) retrying; s3fs's own loop would multiply it.
        fs.retries = 1
        return fs

    def _timeouts(self) -> str:
        o = self.options
        return (
            f"{o.retries + 1} attempt(s) of connect_timeout={o.connect_timeout:g}s / "
            f"read_timeout={o.read_timeout:g}s"
        )

    def _error(self, exc: BaseException, what: str) -> AwsError:
        return translate(
            exc,
            what=what,
            bucket=self.bucket,
            region=self.options.region,
            endpoint=self.options.endpoint_url,
            timeouts=self._timeouts(),
        )

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        from flowy_aws.s3_io import _Loop

        try:
            return _Loop(self.fs, self.options.retries).call(method, **kwargs)
        except Exception as exc:
            if is_not_found(exc) and method in ("head_object", "get_object"):
                raise
            raise self._error(exc, what) from exc

    def check_bucket(self) -> None:
        """Fail fast, with the fix, when the bucket is missing, elsewhere or unreachable."""
        try:
            response = self._call(f"reach bucket {self.bucket}", "head_bucket", Bucket=self.bucket)
        except AwsError as exc:
            cause = exc.__cause__
            if cause is not None and is_not_found(cause):
                raise self._error(_NoSuchBucket(), f"use bucket {self.bucket}") from cause
            raise
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        actual = response.get("BucketRegion") or headers.get("x-amz-bucket-region")
        wanted = self.options.region
        if wanted and actual and actual != wanted:
            raise AwsBucketError(
                f"The bucket {self.bucket!r} is in region {actual!r}, but the stack's s3 "
                f'artifact store says region {wanted!r}. Set `region = "{actual}"` '
                f"(`flowy stack update STACK --artifact-store-option region={actual}`)."
            )

    def describe(self) -> dict[str, Any]:
        o = self.options
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "region": o.region,
            "endpoint_url": o.endpoint_url,
            "sse": o.sse,
        }

    # -- paths ---------------------------------------------------------------

    def uri_for(self, key: str) -> str:
        key = key.lstrip("/")
        if not key:
            raise ValueError("artifact key is empty")
        full = f"{self.prefix}/{key}" if self.prefix else key
        return f"s3://{self.bucket}/{full}"

    def split(self, uri: str) -> tuple[str, str]:
        """``s3://bucket/key`` -> (bucket, key); refuses other buckets and ``..``."""
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise ValueError(f"artifact uri {uri!r} is not an s3:// URI")
        bucket, _, key = uri[5:].partition("/")
        if bucket != self.bucket:
            raise ValueError(f"artifact uri {uri!r} is outside this store's bucket {self.bucket!r}")
        if not key or ".." in key.split("/"):
            raise ValueError(f"artifact uri {uri!r} has an empty key or contains '..'")
        return bucket, key

    # -- bytes ---------------------------------------------------------------

    def _sse(self) -> dict[str, Any]:
        o = self.options
        extra: dict[str, Any] = {}
        if o.sse:
            extra["ServerSideEncryption"] = o.sse
        if o.sse_kms_key_id:
            extra["SSEKMSKeyId"] = o.sse_kms_key_id
        if o.bucket_key and o.sse == "aws:kms":
            extra["BucketKeyEnabled"] = True
        return extra

    def open_write(self, uri: str) -> contextlib.AbstractContextManager[BinaryIO]:
        return self._write(*self.split(uri))

    @contextlib.contextmanager
    def _write(self, bucket: str, key: str) -> Iterator[BinaryIO]:
        o = self.options
        writer = MultipartWriter(
            self.fs,
            bucket,
            key,
            extra=self._sse(),
            threshold=o.multipart_threshold,
            chunk_size=o.chunk_size,
            concurrency=o.concurrency,
            retries=o.retries,
            translate=lambda exc, what: self._error(exc, f"{what} of s3://{bucket}/{key}"),
        )
        try:
            yield writer  # type: ignore[misc]
            writer.commit()
        except BaseException:
            writer.abort()
            raise

    def open_read(self, uri: str) -> BinaryIO:
        bucket, key = self.split(uri)
        try:
            head = self._call(f"read {uri}", "head_object", Bucket=bucket, Key=key)
        except Exception as exc:
            if is_not_found(exc):
                raise ArtifactNotFoundError(
                    f"No artifact at {uri} in the s3 artifact store (bucket {bucket!r}). It was "
                    "deleted, or the stack's bucket/prefix changed; re-run the step that produced "
                    "it (`flowy run ... --no-cache`)."
                ) from None
            raise
        o = self.options
        return RangeReader(  # type: ignore[return-value]
            self.fs,
            bucket,
            key,
            size=int(head["ContentLength"]),
            etag=head["ETag"],
            chunk_size=o.chunk_size,
            concurrency=o.concurrency,
            retries=o.retries,
            translate=lambda exc, what: self._error(exc, f"{what} of {uri}"),
            extra={},
        )

    def exists(self, uri: str) -> bool:
        bucket, key = self.split(uri)
        try:
            self._call(f"check {uri}", "head_object", Bucket=bucket, Key=key)
        except Exception as exc:
            if is_not_found(exc):
                return False
            raise
        return True

    def delete(self, uri: str) -> None:
        bucket, key = self.split(uri)
        self._call(f"delete {uri}", "delete_object", Bucket=bucket, Key=key)

    # -- helpers for the executor and `flowy aws check` ----------------------

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write a small object (manifests, code) atomically."""
        with self.open_write(uri) as f:
            f.write(data)

    def read_bytes(self, uri: str) -> bytes:
        with self.open_read(uri) as f:
            return f.read()

    def key_uri(self, *parts: str) -> str:
        """A URI under this store's prefix built from path parts (``jobs/run/step``)."""
        return self.uri_for(posixpath.join(*parts))


class _NoSuchBucket(Exception):
    response: ClassVar[dict[str, Any]] = {"Error": {"Code": "NoSuchBucket"}}

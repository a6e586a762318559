"""The ``gcs`` artifact store: artifacts as Cloud Storage objects, written atomically.

URIs are ``gs://BUCKET/PREFIX/KEY``: what ``gcloud storage cp`` takes. Bytes
move through gcsfs (:mod:`flowy_gcp.gcs_fs`, with bounded requests): objects
up to ``chunk_size`` in one upload, larger ones as a resumable upload in
``chunk_size`` pieces. Either way Cloud Storage makes the object visible only
when the upload is finalized, so a reader never sees half an artifact, and a
write that raises cancels its resumable upload: nothing is left behind.
Checksums are the core's (BLAKE3 while streaming, verified on every read).

Credentials come only from Application Default Credentials (or none, with
``anonymous = true``, for public buckets and emulators): there is no option
for a key, so no stack file can hold one.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterator
from datetime import datetime
from typing import Any, BinaryIO, ClassVar

from flowy.kernel.contracts import ArtifactStore, StoredObject
from flowy.kernel.errors import ArtifactNotFoundError, ConfigError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from flowy_gcp.errors import GcpBucketError, GcpError, translate

KIB = 1024
MIB = 1024 * KIB
#: Resumable uploads move in multiples of 256 KiB (all but the last piece).
UPLOAD_QUANTUM = 256 * KIB


class GcsOptions(BaseModel):
    """Stack options of the ``gcs`` artifact store (validated when a stack is checked)."""

    model_config = ConfigDict(extra="forbid")

    bucket: str = Field(min_length=3, max_length=222, pattern=r"^[a-z0-9][a-z0-9._\-]*[a-z0-9]$")
    """The bucket; it must exist (Flowy never creates buckets)."""
    prefix: str = ""
    """Object-name prefix under which artifacts are stored (``team/project``)."""
    project: str | None = None
    """The Google Cloud project (billing for requester-pays buckets); default from ADC."""
    endpoint_url: str | None = None
    """Another endpoint (an emulator, a private endpoint); default Google's. Also read from
    STORAGE_EMULATOR_HOST when unset."""
    anonymous: bool = False
    """Send no credentials (public buckets, emulators)."""
    connect_timeout: float = Field(5.0, gt=0)
    """Seconds to wait for a connection, per attempt."""
    read_timeout: float = Field(60.0, gt=0)
    """Seconds to wait for a response (or the next bytes of one), per attempt."""
    retries: int = Field(4, ge=0, le=20)
    """Attempts after the first, for connection errors, timeouts, 429 and 5xx."""
    chunk_size: int = Field(16 * MIB, ge=UPLOAD_QUANTUM, le=1024 * MIB)
    """Objects larger than this are uploaded in pieces of this size (a multiple of 256 KiB)."""
    check_bucket: bool = True
    """Check at start-up that the bucket exists and is reachable with these credentials."""

    @field_validator("chunk_size")
    @classmethod
    def _quantum(cls, value: int) -> int:
        if value % UPLOAD_QUANTUM:
            raise ValueError("chunk_size must be a multiple of 256 KiB (262144 bytes)")
        return value


class GcsArtifactStore(ArtifactStore):
    """Artifact bytes in a Cloud Storage bucket (see the module docstring)."""

    Options: ClassVar[Any] = GcsOptions

    def __init__(self, **options: Any) -> None:
        self.options = GcsOptions(**options)
        self.bucket = self.options.bucket
        self.prefix = self.options.prefix.strip("/")
        if ".." in self.prefix.split("/"):
            raise ConfigError(f"gcs artifact store: prefix {self.prefix!r} must not contain '..'")
        self._fs: Any = None
        self._fs_pid = 0
        if self.options.check_bucket:
            self.check_bucket()

    # -- client ----------------------------------------------------------------

    @property
    def fs(self) -> Any:
        """The gcsfs filesystem, built on first use in each process (it does not survive a
        fork, and executors may fork workers after the store was built)."""
        pid = os.getpid()
        if self._fs is None or self._fs_pid != pid:
            self._fs, self._fs_pid = self._make_fs(), pid
        return self._fs

    def _make_fs(self) -> Any:
        from flowy_gcp.gcs_fs import make_filesystem

        o = self.options
        try:
            return make_filesystem(
                endpoint_url=o.endpoint_url,
                anonymous=o.anonymous,
                project=o.project,
                connect_timeout=o.connect_timeout,
                read_timeout=o.read_timeout,
                retries=o.retries,
                block_size=o.chunk_size,
            )
        except Exception as exc:
            raise self._error(exc, f"connect to bucket {self.bucket}") from exc

    def _timeouts(self) -> str:
        o = self.options
        return (
            f"{o.retries + 1} attempt(s) of connect_timeout={o.connect_timeout:g}s / "
            f"read_timeout={o.read_timeout:g}s"
        )

    def _error(self, exc: BaseException, what: str) -> GcpError:
        if isinstance(exc, FileNotFoundError):  # writing or listing: the bucket is gone
            return GcpBucketError(
                f"Could not {what}: the bucket {self.bucket!r} does not exist{self._where()}. "
                f"Create it (`gcloud storage buckets create gs://{self.bucket}`) or fix the "
                "stack's `bucket` option; Flowy never creates buckets."
            )
        return translate(
            exc,
            what=what,
            bucket=self.bucket,
            endpoint=self.options.endpoint_url or os.environ.get("STORAGE_EMULATOR_HOST"),
            timeouts=self._timeouts(),
        )

    def check_bucket(self) -> None:
        """Fail fast, with the fix, when the bucket is missing or unreachable."""
        what = f"reach bucket {self.bucket}"
        try:
            self.fs.call("GET", "b/{}", self.bucket, json_out=True)
        except GcpError:
            raise
        except Exception as exc:
            raise self._error(exc, what) from exc

    def _where(self) -> str:
        endpoint = self.options.endpoint_url or os.environ.get("STORAGE_EMULATOR_HOST")
        return f" at {endpoint}" if endpoint else ""

    def describe(self) -> dict[str, Any]:
        o = self.options
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "project": o.project,
            "endpoint_url": o.endpoint_url,
            "anonymous": o.anonymous,
        }

    # -- paths -----------------------------------------------------------------

    def uri_for(self, key: str) -> str:
        key = key.lstrip("/")
        if not key:
            raise ValueError("artifact key is empty")
        full = f"{self.prefix}/{key}" if self.prefix else key
        return f"gs://{self.bucket}/{full}"

    def key_uri(self, *parts: str) -> str:
        """A URI under this store's prefix built from path parts (``jobs/run/step``)."""
        return self.uri_for(posixpath.join(*parts))

    def path(self, uri: str) -> str:
        """``gs://bucket/name`` -> ``bucket/name`` (gcsfs's path); refuses other buckets, ``..``."""
        if not isinstance(uri, str) or not uri.startswith("gs://"):
            raise ValueError(f"artifact uri {uri!r} is not a gs:// URI")
        bucket, _, name = uri[5:].partition("/")
        if bucket != self.bucket:
            raise ValueError(f"artifact uri {uri!r} is outside this store's bucket {self.bucket!r}")
        if not name or ".." in name.split("/"):
            raise ValueError(f"artifact uri {uri!r} has an empty name or a '..' part")
        return f"{bucket}/{name}"

    # -- bytes -------------------------------------------------------------------

    def open_write(self, uri: str) -> contextlib.AbstractContextManager[BinaryIO]:
        return self._write(uri, self.path(uri))

    @contextlib.contextmanager
    def _write(self, uri: str, path: str) -> Iterator[BinaryIO]:
        try:
            f = self.fs.open(path, "wb", block_size=self.options.chunk_size)
        except GcpError:
            raise
        except Exception as exc:
            raise self._error(exc, f"write {uri}") from exc
        writer = _Writer(f, self, uri)
        try:
            yield writer  # type: ignore[misc]
        except BaseException:
            writer.discard()
            raise
        writer.commit()

    def open_read(self, uri: str) -> BinaryIO:
        path = self.path(uri)
        try:
            f = self.fs.open(path, "rb", block_size=self.options.chunk_size, cache_type="readahead")
        except FileNotFoundError:
            raise ArtifactNotFoundError(f"No artifact at {uri}") from None
        except Exception as exc:
            raise self._error(exc, f"read {uri}") from exc
        return _Reader(f, self, uri)  # type: ignore[return-value]

    def exists(self, uri: str) -> bool:
        path = self.path(uri)
        try:
            info = self.fs.info(path)
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise self._error(exc, f"check {uri}") from exc
        return bool(info.get("type") == "file")

    def delete(self, uri: str) -> None:
        path = self.path(uri)
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._error(exc, f"delete {uri}") from exc

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write a small object (manifests, code) atomically."""
        with self.open_write(uri) as f:
            f.write(data)

    def read_bytes(self, uri: str) -> bytes:
        with self.open_read(uri) as f:
            return f.read()

    # -- housekeeping --------------------------------------------------------------

    def list_objects(self) -> Iterator[StoredObject]:
        root = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        try:
            found = self.fs.find(root, detail=True)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise self._error(exc, f"list gs://{root}") from exc
        for name, info in found.items():
            if info.get("type") != "file":
                continue
            yield StoredObject(f"gs://{name}", int(info.get("size") or 0), _mtime(info))


def _mtime(info: dict[str, Any]) -> float:
    stamp = info.get("updated") or info.get("mtime") or ""
    if isinstance(stamp, datetime):
        return stamp.timestamp()
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class _Writer:
    """The upload, as the binary file a materializer writes to; errors become GcpErrors."""

    def __init__(self, f: Any, store: GcsArtifactStore, uri: str) -> None:
        self._f = f
        self._store = store
        self._uri = uri

    def write(self, data: Any) -> int:
        try:
            return int(self._f.write(data))
        except Exception as exc:
            raise self._store._error(exc, f"write {self._uri}") from exc

    def flush(self) -> None:
        """Nothing to do: pieces go up as they fill; the object appears at commit."""

    def tell(self) -> int:
        return int(self._f.tell())

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return bool(self._f.closed)

    def commit(self) -> None:
        try:
            self._f.close()
        except Exception as exc:
            self.discard()
            raise self._store._error(exc, f"write {self._uri}") from exc

    def discard(self) -> None:
        """Cancel the upload; the object (or its old version) stays as it was."""
        f = self._f
        with contextlib.suppress(Exception):
            f.discard()
        # Drop the buffer and mark the file closed, so that nothing (not even the garbage
        # collector's close) uploads the half-written bytes.
        f.buffer = None
        f.closed = True


class _Reader:
    """The object, as a readable binary file; errors become GcpErrors."""

    def __init__(self, f: Any, store: GcsArtifactStore, uri: str) -> None:
        self._f = f
        self._store = store
        self._uri = uri

    def read(self, size: int = -1) -> bytes:
        try:
            return bytes(self._f.read(size))
        except FileNotFoundError:
            raise ArtifactNotFoundError(f"No artifact at {self._uri}") from None
        except Exception as exc:
            raise self._store._error(exc, f"read {self._uri}") from exc

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(memoryview(buffer)))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def __getattr__(self, name: str) -> Any:  # seek, tell, size, readable, closed...
        return getattr(self._f, name)

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._f)

    def close(self) -> None:
        self._f.close()

"""The ``azure_blob`` artifact store: artifacts as block blobs, written atomically, streamed.

URIs are ``az://CONTAINER/PREFIX/KEY``: what adlfs and ``fsspec.open`` take
(with the account in ``storage_options``). The filesystem is adlfs's
:class:`~adlfs.AzureBlobFileSystem`, with a service client Flowy configures
(bounded timeouts and retries, block sizes); bytes move through that client's
async API on adlfs's event loop (parallel blocks and ranges, see
:mod:`flowy_azure.blob_io`). Checksums are the core's (BLAKE3 computed while
streaming, verified on every read), as for every store.

Credentials come only from the environment (:mod:`flowy_azure.credentials`):
there is deliberately no option for keys, so no stack file can hold one.
Every call is bounded: ``connect_timeout`` and ``read_timeout`` per request,
``retries`` attempts more for throttling, 5xx and dropped connections, with
exponential backoff (0.5 s doubling, at most 10 s, jittered).
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import random
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar

from flowy.kernel.contracts import ArtifactStore, StoredObject
from flowy.kernel.errors import ArtifactNotFoundError, ConfigError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from flowy_azure.blob_io import BlockWriter, Loop, RangeReader
from flowy_azure.credentials import Credential, default_endpoint, is_token, resolve
from flowy_azure.errors import (
    CREDENTIALS_FIX,
    AzureContainerError,
    AzureCredentialsError,
    AzureError,
    is_container_missing,
    is_not_found,
    translate,
)

MIB = 1024 * 1024
SCHEME = "az://"


class AzureBlobOptions(BaseModel):
    """Stack options of the ``azure_blob`` artifact store (validated when a stack is checked)."""

    model_config = ConfigDict(extra="forbid")

    account_name: str = Field(pattern=r"^[a-z0-9]{3,24}$")
    """The storage account (``devstoreaccount1`` for Azurite)."""
    container: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
    """The container; it must exist (Flowy never creates containers)."""
    prefix: str = ""
    """Blob-name prefix under which artifacts are stored (``team/project``)."""
    endpoint_url: str | None = None
    """The blob endpoint; default ``https://ACCOUNT.blob.core.windows.net`` (or the one
    AZURE_STORAGE_CONNECTION_STRING names). Azurite: ``http://127.0.0.1:10000/ACCOUNT``."""
    connect_timeout: float = Field(5.0, gt=0)
    """Seconds to wait for a connection, per attempt."""
    read_timeout: float = Field(60.0, gt=0)
    """Seconds to wait for a response (or the next bytes of one), per attempt."""
    retries: int = Field(4, ge=0, le=20)
    """Attempts after the first, for throttling, 5xx and dropped connections."""
    single_put_threshold: int = Field(8 * MIB, ge=1, le=256 * MIB)
    """Blobs smaller than this are uploaded with one Put Blob; larger ones in blocks."""
    chunk_size: int = Field(8 * MIB, ge=256 * 1024, le=4000 * MIB)
    """Block size for uploads and range size for downloads (at most 50,000 blocks a blob)."""
    concurrency: int = Field(8, ge=1, le=64)
    """Blocks (or ranges) in flight at once per artifact; memory is about (this + 1) x chunk."""
    check_container: bool = True
    """Check at start-up that the container exists and the credentials are accepted."""

    @field_validator("container")
    @classmethod
    def _no_double_dash(cls, value: str) -> str:
        if "--" in value:
            raise ValueError("a container name has no two dashes in a row (Azure's naming rule)")
        return value


@functools.cache
def _filesystem_class() -> type:
    """adlfs's filesystem, connecting with the service client Flowy built."""
    from adlfs import AzureBlobFileSystem

    class FlowyBlobFileSystem(AzureBlobFileSystem):  # type: ignore[misc]
        """adlfs with a service client that has Flowy's timeouts, retries and block sizes."""

        def __init__(self, *args: Any, flowy_client: Any, **kwargs: Any) -> None:
            self._flowy_client = flowy_client
            super().__init__(*args, **kwargs)

        def do_connect(self) -> None:
            self.service_client = self._flowy_client

    return FlowyBlobFileSystem


def service_client(options: AzureBlobOptions, credential: Credential) -> Any:
    """The async ``BlobServiceClient`` for ``options`` (bounded timeouts and retries)."""
    from azure.storage.blob.aio import BlobServiceClient, ExponentialRetry

    class Backoff(ExponentialRetry):  # type: ignore[misc]
        """0.5 s, 1 s, 2 s ... at most 10 s, +/-25% (the SDK's default starts at 15 s)."""

        def get_backoff_time(self, settings: dict[str, Any]) -> float:
            base = min(10.0, 0.5 * 2 ** max(settings["count"] - 1, 0))
            return float(base * random.uniform(0.75, 1.25))

    endpoint = options.endpoint_url or credential.endpoint or default_endpoint(options.account_name)
    return BlobServiceClient(
        account_url=endpoint.rstrip("/"),
        credential=credential.value,
        retry_policy=Backoff(retry_total=options.retries),
        connection_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        max_single_put_size=options.single_put_threshold,
        max_block_size=options.chunk_size,
        max_single_get_size=options.chunk_size,
        max_chunk_get_size=options.chunk_size,
    )


class AzureBlobArtifactStore(ArtifactStore):
    """Artifact bytes in an Azure Blob Storage container (see the module docstring)."""

    Options: ClassVar[Any] = AzureBlobOptions

    def __init__(self, **options: Any) -> None:
        self.options = AzureBlobOptions(**options)
        self.account = self.options.account_name
        self.container = self.options.container
        self.prefix = self.options.prefix.strip("/")
        if ".." in self.prefix.split("/"):
            raise ConfigError(
                f"azure_blob artifact store: prefix {self.prefix!r} must not contain '..'"
            )
        self._fs: Any = None
        self._fs_pid = 0
        self.credential = resolve(self.account)
        self.endpoint = (
            self.options.endpoint_url or self.credential.endpoint or default_endpoint(self.account)
        ).rstrip("/")
        if is_token(self.credential) and not self.endpoint.startswith("https://"):
            raise AzureCredentialsError(
                f"The azure_blob store found no key, SAS token or connection string in the "
                f"environment, and Azure AD tokens are only sent over https, but the endpoint "
                f"is {self.endpoint}. For Azurite or another http endpoint set "
                "AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_CONNECTION_STRING. "
                f"{CREDENTIALS_FIX}"
            )
        if self.options.check_container:
            self.check_container()

    # -- clients -------------------------------------------------------------

    @property
    def fs(self) -> Any:
        """The adlfs filesystem (built on first use in each process).

        Executors may fork workers after the store was built (a process pool);
        the async client and its event loop do not survive a fork, so a
        forked child builds its own.
        """
        pid = os.getpid()
        if self._fs is None or self._fs_pid != pid:
            if self._fs is not None:  # a forked child: async credentials are loop-bound
                self.credential = resolve(self.account)
            self._fs, self._fs_pid = self._make_fs(), pid
        return self._fs

    def _make_fs(self) -> Any:
        client = service_client(self.options, self.credential)
        return _filesystem_class()(
            account_name=self.account,
            credential=client.credential,
            anon=client.credential is None,  # else adlfs would build a credential of its own
            flowy_client=client,
            use_listings_cache=False,
            skip_instance_cache=True,
            assume_container_exists=True,
            max_concurrency=self.options.concurrency,
            connection_timeout=self.options.connect_timeout,
            read_timeout=self.options.read_timeout,
        )

    @property
    def loop(self) -> Loop:
        return Loop(self.fs.loop)

    def container_client(self) -> Any:
        return self.fs.service_client.get_container_client(self.container)

    def blob_client(self, name: str) -> Any:
        return self.container_client().get_blob_client(name)

    def _timeouts(self) -> str:
        o = self.options
        return (
            f"{o.retries + 1} attempt(s) of connect_timeout={o.connect_timeout:g}s / "
            f"read_timeout={o.read_timeout:g}s"
        )

    def _error(self, exc: BaseException, what: str) -> AzureError:
        return translate(
            exc,
            what=what,
            account=self.account,
            container=self.container,
            endpoint=self.endpoint,
            timeouts=self._timeouts(),
        )

    def check_container(self) -> None:
        """Fail fast, with the fix, when the container is missing or the credentials refused."""
        try:
            self.loop.run(self.container_client().get_container_properties())
        except Exception as exc:
            if is_container_missing(exc):
                raise self._error(exc, f"use container {self.container!r}") from exc
            raise self._error(exc, f"reach container {self.container!r}") from exc

    def describe(self) -> dict[str, Any]:
        return {
            "url": f"{SCHEME}{self.container}/{self.prefix}".rstrip("/"),
            "account": self.account,
            "container": self.container,
            "prefix": self.prefix,
            "endpoint_url": self.endpoint,
            # where the credential came from, never the secret ("credentials" would be masked)
            "auth_source": self.credential.source,
        }

    # -- paths ---------------------------------------------------------------

    def uri_for(self, key: str) -> str:
        key = key.lstrip("/")
        if not key:
            raise ValueError("artifact key is empty")
        full = f"{self.prefix}/{key}" if self.prefix else key
        return f"{SCHEME}{self.container}/{full}"

    def split(self, uri: str) -> str:
        """``az://container/name`` -> the blob name; refuses other containers and ``..``."""
        if not isinstance(uri, str) or not uri.startswith(SCHEME):
            raise ValueError(f"artifact uri {uri!r} is not an {SCHEME} URI")
        container, _, name = uri[len(SCHEME) :].partition("/")
        if container != self.container:
            raise ValueError(
                f"artifact uri {uri!r} is outside this store's container {self.container!r}"
            )
        if not name or ".." in name.split("/"):
            raise ValueError(f"artifact uri {uri!r} has an empty blob name or contains '..'")
        return name

    # -- bytes ---------------------------------------------------------------

    def open_write(self, uri: str) -> contextlib.AbstractContextManager[BinaryIO]:
        return self._write(uri, self.split(uri))

    @contextlib.contextmanager
    def _write(self, uri: str, name: str) -> Iterator[BinaryIO]:
        o = self.options
        writer = BlockWriter(
            self.loop,
            self.blob_client(name),
            threshold=o.single_put_threshold,
            chunk_size=o.chunk_size,
            concurrency=o.concurrency,
            translate=lambda exc, what: self._error(exc, f"{what} of {uri}"),
        )
        try:
            yield writer  # type: ignore[misc]
            writer.commit()
        except BaseException:
            writer.abort()
            raise

    def _properties(self, uri: str, name: str) -> Any:
        try:
            return self.loop.run(self.blob_client(name).get_blob_properties())
        except Exception as exc:
            if is_not_found(exc):
                raise ArtifactNotFoundError(
                    f"No artifact at {uri} in the azure_blob artifact store (account "
                    f"{self.account!r}). It was deleted, or the stack's container/prefix "
                    "changed; re-run the step that produced it (`flowy run ... --no-cache`)."
                ) from None
            raise self._error(exc, f"read {uri}") from exc

    def open_read(self, uri: str) -> BinaryIO:
        name = self.split(uri)
        props = self._properties(uri, name)
        o = self.options
        return RangeReader(  # type: ignore[return-value]
            self.loop,
            self.blob_client(name),
            size=int(props.size),
            etag=str(props.etag),
            chunk_size=o.chunk_size,
            concurrency=o.concurrency,
            retries=o.retries,
            translate=lambda exc, what: self._error(exc, f"{what} of {uri}"),
        )

    def exists(self, uri: str) -> bool:
        try:
            self._properties(uri, self.split(uri))
        except ArtifactNotFoundError:
            return False
        return True

    def delete(self, uri: str) -> None:
        name = self.split(uri)
        try:
            self.loop.run(self.blob_client(name).delete_blob(delete_snapshots="include"))
        except Exception as exc:
            if is_not_found(exc):
                return
            raise self._error(exc, f"delete {uri}") from exc

    # -- housekeeping ----------------------------------------------------------

    def list_objects(self) -> Iterator[StoredObject]:
        """Every committed blob under the prefix (staged, uncommitted blocks are never listed)."""
        start = f"{self.prefix}/" if self.prefix else None

        async def listing() -> list[StoredObject]:
            found = []
            async for blob in self.container_client().list_blobs(name_starts_with=start):
                modified = blob.last_modified.timestamp() if blob.last_modified else 0.0
                found.append(
                    StoredObject(f"{SCHEME}{self.container}/{blob.name}", blob.size, modified)
                )
            return found

        try:
            objects: list[StoredObject] = self.loop.run(listing())
        except Exception as exc:
            raise self._error(exc, f"list {SCHEME}{self.container}/{self.prefix}") from exc
        yield from objects

    # -- helpers for the executor and `flowy azure check` ----------------------

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


__all__ = ["AzureBlobArtifactStore", "AzureBlobOptions", "AzureContainerError"]

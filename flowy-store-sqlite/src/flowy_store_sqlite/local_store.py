"""``LocalArtifactStore``: artifacts as files under one folder.

URIs are absolute file paths under the store's root (no ``file://``): what a
user can paste into a shell, and what ``open()`` takes without parsing.

Writes are atomic: bytes go to ``.<name>.tmp-<random>`` in the destination
folder (same filesystem, so the rename is atomic) and are renamed into place
with ``os.replace`` when the ``with`` block exits cleanly; on an exception the
temporary file is removed. With ``fsync`` the file, and then its folder (so
the rename itself is durable), are fsynced first.

The hot path uses ``open``/``os.replace`` directly: fsspec's
``LocalFileSystem`` adds tens of microseconds per file for features a local
folder does not need. :attr:`LocalArtifactStore.fs` still offers it, for
callers that want one fsspec filesystem API across stores.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from flowy.contracts import ArtifactStore, StoredObject
from flowy.errors import ArtifactNotFoundError
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from fsspec.implementations.local import LocalFileSystem

_FILE_SCHEME = "file://"


class LocalArtifactStoreOptions(BaseModel):
    """Stack options of the ``local`` artifact store."""

    model_config = ConfigDict(extra="forbid")

    path: str
    """The root folder; created when missing. Relative paths are taken from the cwd."""
    fsync: bool = False
    """fsync each artifact and its folder before it becomes visible (survives power loss)."""


class LocalArtifactStore(ArtifactStore):
    """Artifact bytes in a local folder, written atomically (see the module docstring)."""

    Options: ClassVar[Any] = LocalArtifactStoreOptions

    def __init__(self, path: str, fsync: bool = False) -> None:
        self.root = os.path.realpath(os.path.expanduser(path))
        self.fsync = fsync
        os.makedirs(self.root, exist_ok=True)
        self._prefix = self.root.rstrip(os.sep) + os.sep

    @functools.cached_property
    def fs(self) -> LocalFileSystem:
        """An fsspec filesystem over the same files (imported on first use)."""
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(auto_mkdir=True)

    def describe(self) -> dict[str, Any]:
        return {"path": self.root}

    # -- paths -------------------------------------------------------------

    def _path(self, uri: str) -> str:
        """The absolute path of ``uri``, refusing anything outside the root."""
        if not isinstance(uri, str) or "\x00" in uri:
            raise ValueError(f"artifact uri {uri!r} is not a valid path (NUL byte or not a str)")
        raw = uri[len(_FILE_SCHEME) :] if uri.startswith(_FILE_SCHEME) else uri
        if ".." in raw.replace("\\", "/").split("/"):
            raise ValueError(f"artifact uri {uri!r} contains '..'; refusing to leave {self.root}")
        path = os.path.normpath(os.path.join(self.root, raw))
        if not path.startswith(self._prefix):
            raise ValueError(f"artifact uri {uri!r} is outside the artifact store at {self.root}")
        return path

    def uri_for(self, key: str) -> str:
        key = key.lstrip("/")
        if not key:
            raise ValueError("artifact key is empty")
        return self._path(key)

    # -- bytes -------------------------------------------------------------

    def open_write(self, uri: str) -> contextlib.AbstractContextManager[BinaryIO]:
        return self._write(self._path(uri))

    @contextlib.contextmanager
    def _write(self, path: str) -> Iterator[BinaryIO]:
        folder, name = os.path.split(path)
        tmp = os.path.join(folder, f".{name}.tmp-{secrets.token_hex(6)}")
        try:
            file = open(tmp, "xb")  # noqa: SIM115 - closed below on every path
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
            file = open(tmp, "xb")  # noqa: SIM115
        try:
            with file:
                yield file
                file.flush()
                if self.fsync:
                    os.fsync(file.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if self.fsync:
            _fsync_dir(folder)

    def open_read(self, uri: str) -> BinaryIO:
        path = self._path(uri)
        try:
            return open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ArtifactNotFoundError(
                f"No artifact at {uri} in the local artifact store at {self.root}. "
                "It was deleted or the store's path changed; re-run the step that "
                "produced it (`flowy run ... --no-cache`)."
            ) from None

    def local_path(self, uri: str) -> str:
        """The artifact's own file (what Parquet readers open directly); see the contract."""
        path = self._path(uri)
        if not os.path.isfile(path):
            raise ArtifactNotFoundError(
                f"No artifact at {uri} in the local artifact store at {self.root}. "
                "It was deleted or the store's path changed; re-run the step that "
                "produced it (`flowy run ... --no-cache`)."
            )
        return path

    def exists(self, uri: str) -> bool:
        return os.path.isfile(self._path(uri))

    def delete(self, uri: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(uri))

    # -- housekeeping (flowy gc, flowy doctor): see local_listing -----------

    def list_objects(self) -> Iterator[StoredObject]:
        from flowy_store_sqlite.local_listing import walk

        return walk(self.root)

    def is_temporary(self, uri: str) -> bool:
        from flowy_store_sqlite.local_listing import is_temporary

        return is_temporary(uri)

    def holds_artifacts(self) -> bool:
        from flowy_store_sqlite.local_listing import holds_files

        return holds_files(self.root)


def _fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""``LocalArtifactStore``: artifacts as files under one folder.

URIs are absolute file paths under the store's root (no ``file://``): what a
user can paste into a shell, and what ``open()`` takes without parsing.

Writes are atomic: bytes go to ``.<name>.tmp-<random>`` in the destination
folder (same filesystem, so the rename is atomic) and are renamed into place
with ``os.replace`` when the ``with`` block exits cleanly; on an exception the
temporary file is removed. With ``fsync`` the file, and then its folder (so
the rename itself is durable), are fsynced first.

Every URI is resolved with ``realpath`` and refused unless it stays under the
root: a symbolic link planted inside the store (a folder or a file pointing
elsewhere) is never followed out of it, for reading or for writing. Writing
replaces, and deleting removes, the directory entry itself, never what a link
points to.

The hot path uses ``open``/``os.replace`` directly: fsspec's
``LocalFileSystem`` adds tens of microseconds per file for features a local
folder does not need. :attr:`LocalArtifactStore.fs` still offers it, for
callers that want one fsspec filesystem API across stores.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import secrets
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from flowy.kernel.contracts import ArtifactStore, LazyOptions, StoredObject
from flowy.kernel.errors import ArtifactNotFoundError, ArtifactPathError

if TYPE_CHECKING:
    from fsspec.implementations.local import LocalFileSystem

_FILE_SCHEME = "file://"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class LocalArtifactStore(ArtifactStore):
    """Artifact bytes in a local folder, written atomically (see the module docstring)."""

    Options: ClassVar[Any] = LazyOptions("flowy_store_sqlite.options:LocalArtifactStoreOptions")

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

    def _lexical(self, uri: str) -> str:
        """``uri`` as an absolute path, without resolving links; refused unless under the root."""
        if not isinstance(uri, str) or "\x00" in uri:
            raise ArtifactPathError(
                f"artifact uri {uri!r} is not a valid path (NUL byte or not a str)"
            )
        raw = uri[len(_FILE_SCHEME) :] if uri.startswith(_FILE_SCHEME) else uri
        if ".." in raw.replace("\\", "/").split("/"):
            raise ArtifactPathError(
                f"artifact uri {uri!r} contains '..'; refusing to leave {self.root}"
            )
        path = os.path.normpath(os.path.join(self.root, raw))
        if not path.startswith(self._prefix):
            raise ArtifactPathError(
                f"artifact uri {uri!r} is outside the artifact store at {self.root}"
            )
        return path

    def _inside(self, uri: str, real: str) -> str:
        """``real`` (a resolved path) if it is under the root; refused otherwise."""
        if not real.startswith(self._prefix):
            raise ArtifactPathError(
                f"artifact uri {uri!r} leads to {real}, outside the artifact store at "
                f"{self.root}, through a symbolic link inside it. Flowy never follows a link "
                "out of the store; remove the link (someone or something planted it)."
            )
        return real

    def _path(self, uri: str) -> str:
        """The real path of ``uri``, every symbolic link resolved; refused unless in the root."""
        return self._inside(uri, self._real(self._lexical(uri)))

    def _real(self, path: str) -> str:
        """``os.path.realpath(path)`` for a path under the (already real) root, but cheaper.

        Only the parts below the root are looked at, one ``lstat`` each (the hot
        path reads thousands of small artifacts); ``realpath`` runs only when
        one of them is a link. A part that does not exist ends the walk: nothing
        below it can be a link.
        """
        current = self.root
        for part in path[len(self._prefix) :].split(os.sep):
            current = f"{current}{os.sep}{part}"
            try:
                mode = os.lstat(current).st_mode
            except (FileNotFoundError, NotADirectoryError):
                return path
            if stat.S_ISLNK(mode):
                return os.path.realpath(path)
        return path

    def _entry(self, uri: str) -> str:
        """The directory entry ``uri`` names, in its real folder (for writing and deleting).

        Replacing or unlinking an entry never follows it, so an entry that is a
        link is itself replaced or removed; but a link (of a folder, or of the
        file itself when writing) that leads out of the root is refused.
        """
        folder, name = os.path.split(self._lexical(uri))
        real = self._real(folder) if folder != self.root else folder
        return self._inside(uri, os.path.join(real, name))

    def uri_for(self, key: str) -> str:
        key = key.lstrip("/")
        if not key:
            raise ArtifactPathError("artifact key is empty")
        path = self._lexical(key)
        self._path(path)  # refuse a key that a link would take out of the root
        return path

    # -- bytes -------------------------------------------------------------

    def open_write(self, uri: str) -> contextlib.AbstractContextManager[BinaryIO]:
        self._path(uri)  # the file itself may be a link: refused if it leads out
        return self._write(self._entry(uri))

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
            # The path is resolved already; O_NOFOLLOW refuses a link swapped in since.
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise self._missing(uri) from None
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise ArtifactPathError(
                f"artifact uri {uri!r} became a symbolic link while it was being opened; "
                f"Flowy never follows a link in the artifact store at {self.root}."
            ) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise self._missing(uri)
        return open(fd, "rb")  # the caller closes it

    def _missing(self, uri: str) -> ArtifactNotFoundError:
        return ArtifactNotFoundError(
            f"No artifact at {uri} in the local artifact store at {self.root}. "
            "It was deleted or the store's path changed; re-run the step that "
            "produced it (`flowy run ... --no-cache`)."
        )

    def local_path(self, uri: str) -> str:
        """The artifact's own file (what Parquet readers open directly); see the contract."""
        path = self._path(uri)
        if not os.path.isfile(path):
            raise self._missing(uri)
        return path

    def exists(self, uri: str) -> bool:
        return os.path.isfile(self._path(uri))

    def delete(self, uri: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._entry(uri))  # a link is removed itself, never what it points to

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

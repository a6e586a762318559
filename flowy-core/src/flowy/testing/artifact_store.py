"""The contract every :class:`~flowy.kernel.contracts.ArtifactStore` must meet, as tests.

Subclass :class:`ArtifactStoreContract` in a class whose name starts with
``Test`` and provide a ``store`` fixture returning a fresh, empty store::

    class TestLocalStore(ArtifactStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return LocalArtifactStore(str(tmp_path))

The checks are about behaviour the engine relies on, not about any one
backend: atomic visibility (a reader never sees half an artifact, a failed
write leaves nothing), overwrite, streaming of large objects,
``ArtifactNotFoundError`` for what is absent, the optional ``local_path``
(None, or a file holding exactly the artifact's bytes) and, for stores with
local files, that a symbolic link planted inside the store is never followed
out of it. The "no temporary
debris" checks list the folder through the store's fsspec filesystem
(``store.fs``) when it has one; override :meth:`ArtifactStoreContract.listing`
otherwise.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import uuid
from typing import Any

import pytest

from flowy.kernel.contracts import ArtifactStore
from flowy.kernel.errors import ArtifactNotFoundError, FlowyError

LARGE = 9 * 1024 * 1024  # more than 8 MiB: crosses every buffer and multipart threshold


class _Boom(Exception):
    """Raised inside a write block to simulate a failing materializer."""


class ArtifactStoreContract:
    """Behaviour tests for an artifact store; subclasses provide ``store``."""

    @pytest.fixture
    def store(self) -> ArtifactStore:
        raise NotImplementedError("subclasses of ArtifactStoreContract provide a `store` fixture")

    # -- hooks for subclasses ------------------------------------------------

    def key(self, name: str = "out") -> str:
        """A fresh key shaped like the core's (``run/step/output``)."""
        return f"{uuid.uuid4().hex}/step/{name}"

    def listing(self, store: ArtifactStore, uri: str) -> set[str] | None:
        """Names of every object next to ``uri`` (temporary ones included), or None
        when the store cannot list (the debris checks are then skipped)."""
        fs: Any = getattr(store, "fs", None)
        if fs is None:
            return None
        parent = posixpath.dirname(uri.rstrip("/"))
        try:
            entries = fs.ls(parent, detail=False)
        except FileNotFoundError:
            return set()
        return {posixpath.basename(str(e).rstrip("/")) for e in entries}

    # -- helpers -------------------------------------------------------------

    @staticmethod
    def write(store: ArtifactStore, uri: str, data: bytes) -> None:
        with store.open_write(uri) as f:
            f.write(data)

    @staticmethod
    def read(store: ArtifactStore, uri: str) -> bytes:
        with store.open_read(uri) as f:
            return f.read()

    def assert_no_debris(self, store: ArtifactStore, uri: str, expected: set[str]) -> None:
        names = self.listing(store, uri)
        if names is not None:
            assert names == expected, f"unexpected objects next to {uri}: {names - expected}"

    # -- round trips ---------------------------------------------------------

    @pytest.mark.parametrize("size", [0, 1, 4096, 1_000_003])
    def test_round_trip(self, store: ArtifactStore, size: int) -> None:
        data = os.urandom(size)
        uri = store.uri_for(self.key())
        self.write(store, uri, data)
        assert store.exists(uri)
        assert self.read(store, uri) == data

    def test_round_trip_large_streamed(self, store: ArtifactStore) -> None:
        data = os.urandom(LARGE)
        uri = store.uri_for(self.key("big.bin"))
        with store.open_write(uri) as f:
            for start in range(0, LARGE, 1 << 20):  # many writes, as a materializer streams
                f.write(data[start : start + (1 << 20)])
        assert self.read(store, uri) == data

    def test_read_starts_at_zero_and_reads_in_parts(self, store: ArtifactStore) -> None:
        uri = store.uri_for(self.key())
        self.write(store, uri, b"0123456789")
        with store.open_read(uri) as f:
            assert f.read(4) == b"0123"
            assert f.read() == b"456789"

    def test_uri_for_is_stable_and_distinct(self, store: ArtifactStore) -> None:
        key = self.key()
        assert store.uri_for(key) == store.uri_for(key)
        assert store.uri_for(key + "a") != store.uri_for(key + "b")
        assert isinstance(store.uri_for(key), str)

    def test_keys_with_dots_and_dashes(self, store: ArtifactStore) -> None:
        uri = store.uri_for(f"{uuid.uuid4().hex}/my-step_1/model.v2.safetensors")
        self.write(store, uri, b"ok")
        assert self.read(store, uri) == b"ok"

    # -- atomic visibility ---------------------------------------------------

    def test_invisible_until_block_exits(self, store: ArtifactStore) -> None:
        uri = store.uri_for(self.key())
        with store.open_write(uri) as f:
            f.write(b"partial")
            f.flush()
            assert not store.exists(uri)
            with pytest.raises(ArtifactNotFoundError):
                store.open_read(uri)
        assert self.read(store, uri) == b"partial"

    def test_exception_leaves_nothing(self, store: ArtifactStore) -> None:
        uri = store.uri_for(self.key())
        with pytest.raises(_Boom), store.open_write(uri) as f:
            f.write(b"x" * 100_000)
            raise _Boom
        assert not store.exists(uri)
        with pytest.raises(ArtifactNotFoundError):
            store.open_read(uri)
        self.assert_no_debris(store, uri, set())

    def test_no_debris_after_success(self, store: ArtifactStore) -> None:
        uri = store.uri_for(self.key("a"))
        self.write(store, uri, b"a")
        self.write(store, uri, b"b")
        self.assert_no_debris(store, uri, {posixpath.basename(uri)})

    # -- overwrite -----------------------------------------------------------

    def test_overwrite_replaces(self, store: ArtifactStore) -> None:
        uri = store.uri_for(self.key())
        self.write(store, uri, b"first version")
        self.write(store, uri, b"second")
        assert self.read(store, uri) == b"second"

    def test_old_version_visible_during_overwrite(self, store: ArtifactStore) -> None:
        uri = store.uri_for(self.key())
        self.write(store, uri, b"old")
        with store.open_write(uri) as f:
            f.write(b"new")
            f.flush()
            assert self.read(store, uri) == b"old"
        assert self.read(store, uri) == b"new"

    def test_failed_overwrite_keeps_old(self, store: ArtifactStore) -> None:
        uri = store.uri_for(self.key())
        self.write(store, uri, b"old")
        with pytest.raises(_Boom), store.open_write(uri) as f:
            f.write(b"new")
            raise _Boom
        assert self.read(store, uri) == b"old"
        self.assert_no_debris(store, uri, {posixpath.basename(uri)})

    # -- exists / delete / missing -------------------------------------------

    def test_exists_and_delete(self, store: ArtifactStore) -> None:
        uri = store.uri_for(self.key())
        assert not store.exists(uri)
        self.write(store, uri, b"x")
        assert store.exists(uri)
        store.delete(uri)
        assert not store.exists(uri)
        with pytest.raises(ArtifactNotFoundError):
            store.open_read(uri)

    def test_delete_missing_is_not_an_error(self, store: ArtifactStore) -> None:
        store.delete(store.uri_for(self.key()))

    def test_missing_raises_artifact_not_found(self, store: ArtifactStore) -> None:
        uri = store.uri_for(self.key())
        with pytest.raises(ArtifactNotFoundError) as info:
            store.open_read(uri)
        assert uri in str(info.value) or posixpath.basename(uri) in str(info.value)

    def test_describe_is_a_dict(self, store: ArtifactStore) -> None:
        assert isinstance(store.describe(), dict)

    # -- optional local paths ----------------------------------------------------

    def test_local_path_holds_the_bytes_or_is_none(self, store: ArtifactStore) -> None:
        uri = store.uri_for(self.key())
        self.write(store, uri, b"local bytes")
        path = store.local_path(uri)
        if path is None:
            return  # a store without local files: the core streams through open_read
        assert isinstance(path, str) and os.path.isabs(path)
        with open(path, "rb") as f:
            assert f.read() == b"local bytes"
        self.write(store, uri, b"replaced")
        with open(store.local_path(uri) or "", "rb") as f:
            assert f.read() == b"replaced"
        store.delete(uri)
        with pytest.raises(ArtifactNotFoundError):
            store.local_path(uri)

    # -- no escape through symbolic links (stores with local files) -------------

    def test_links_out_of_the_store_are_never_followed(
        self, store: ArtifactStore, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """A link planted in the store (a folder or a file pointing elsewhere) is refused,
        for reading, writing and deleting, and nothing outside is read or changed."""
        base = self.key("anchor").rsplit("/", 1)[0]
        anchor = store.uri_for(f"{base}/anchor")
        self.write(store, anchor, b"in the store")
        path = store.local_path(anchor)
        if path is None:
            # No local file for this artifact, so no link can be planted beside it: the
            # store must then hand out no local path for any of its objects.
            assert store.local_path(store.uri_for(f"{base}/other")) is None
            return
        outside = tmp_path_factory.mktemp("outside-the-store")
        secret = outside / "secret"
        secret.write_bytes(b"secret")
        folder = os.path.dirname(path)
        os.symlink(outside, os.path.join(folder, "linked"))  # a folder leading out
        os.symlink(secret, os.path.join(folder, "secret-link"))  # a file leading out

        def refused(action: Any) -> None:
            with pytest.raises((FlowyError, ValueError)):
                action()

        for key in (f"{base}/linked/secret", f"{base}/secret-link"):
            refused(lambda key=key: self.read(store, store.uri_for(key)))
            refused(lambda key=key: store.local_path(store.uri_for(key)))
            refused(lambda key=key: self.write(store, store.uri_for(key), b"overwritten"))
            with contextlib.suppress(FlowyError, ValueError):
                store.delete(store.uri_for(key))
        refused(lambda: self.write(store, store.uri_for(f"{base}/linked/new"), b"planted"))
        assert secret.read_bytes() == b"secret"
        assert sorted(p.name for p in outside.iterdir()) == ["secret"]
        assert self.read(store, anchor) == b"in the store"

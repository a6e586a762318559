"""Both stores against the contract suites every implementation runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flowy.testing.artifact_store import ArtifactStoreContract
from flowy.testing.metadata_store import MetadataStoreContract
from flowy_store_sqlite.local_store import LocalArtifactStore
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.sqlite import SQLiteMetadataStore


class TestLocalArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalArtifactStore:
        return LocalArtifactStore(str(tmp_path / "artifacts"))


class TestLocalArtifactStoreFsync(ArtifactStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalArtifactStore:
        return LocalArtifactStore(str(tmp_path / "artifacts"), fsync=True)


class TestSQLiteFile(MetadataStoreContract):
    @pytest.fixture
    def store(self, sqlite_store: SQLMetadataStore) -> SQLMetadataStore:
        return sqlite_store


class TestSQLiteFileFsync(MetadataStoreContract):
    """A plain path (no URL scheme) with fsync on: the other code paths of opening."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLMetadataStore]:
        store = SQLMetadataStore(str(tmp_path / "other" / "meta.sqlite"), fsync=True)
        yield store
        store.close()


class TestSQLiteMemory(MetadataStoreContract):
    @pytest.fixture
    def store(self) -> Iterator[SQLMetadataStore]:
        store = SQLMetadataStore("sqlite://")
        yield store
        store.close()


class TestSQLiteDriverFsync(MetadataStoreContract):
    """The stdlib-driver store on a plain path, fsync on."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteMetadataStore]:
        store = SQLiteMetadataStore(str(tmp_path / "other" / "meta.sqlite"), fsync=True)
        yield store
        store.close()


class TestSQLiteDriverMemory(MetadataStoreContract):
    """In memory: the SQLAlchemy side must share the one connection (or see nothing)."""

    @pytest.fixture
    def store(self) -> Iterator[SQLiteMetadataStore]:
        store = SQLiteMetadataStore("sqlite://")
        yield store
        store.close()


class TestSQLiteDriverURLWithOptions(MetadataStoreContract):
    """A SQLite URL with a query string is opened by SQLAlchemy, then shared."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteMetadataStore]:
        store = SQLiteMetadataStore(f"sqlite:///{tmp_path / 'q.db'}?timeout=5")
        yield store
        store.close()

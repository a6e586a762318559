"""Shared fixtures: stores on temporary folders, never on the user's project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.sqlite import SQLiteMetadataStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "meta" / "flowy.db"


@pytest.fixture(params=[SQLMetadataStore, SQLiteMetadataStore], ids=["sqlalchemy", "sqlite3"])
def sqlite_store(request: pytest.FixtureRequest, db_path: Path) -> Iterator[SQLMetadataStore]:
    """A SQLite file through each store class: the SQLAlchemy one and the stdlib-driver one.

    Typed as the SQLAlchemy store: the other serves the same methods (forwarding
    what it does not run itself) and tests use only those.
    """
    store = request.param(f"sqlite:///{db_path}")
    yield store
    store.close()

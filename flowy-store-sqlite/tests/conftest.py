"""Shared fixtures: stores on temporary folders, never on the user's project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flowy_store_sqlite.metadata import SQLMetadataStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "meta" / "flowy.db"


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[SQLMetadataStore]:
    store = SQLMetadataStore(f"sqlite:///{db_path}")
    yield store
    store.close()

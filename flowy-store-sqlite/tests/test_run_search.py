"""``search_runs``: the default (Python) implementation under the same contract as the SQL one.

The SQL implementation runs the contract in test_contracts.py / test_postgres.py
(:class:`flowy.testing.metadata_store.MetadataStoreContract` includes it); here a
store that keeps the kernel's defaults proves them equal, plus what only SQL has.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flowy.kernel.contracts import MetadataStore
from flowy.kernel.run_query import RunQuery, Sort
from flowy.testing.run_search import RunSearchContract
from flowy_store_sqlite.metadata import SQLMetadataStore


class DefaultSearchStore(SQLMetadataStore):
    """The SQL store with the contract's default ``search_runs`` and ``run_columns``."""

    search_runs = MetadataStore.search_runs
    run_columns = MetadataStore.run_columns


class TestDefaultSearch(RunSearchContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MetadataStore]:
        store = DefaultSearchStore(f"sqlite:///{tmp_path / 'meta.db'}")
        yield store
        store.close()


def test_a_cursor_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    store = SQLMetadataStore(f"sqlite:///{tmp_path / 'meta.db'}")
    try:
        with pytest.raises(ValueError, match="cursor"):
            store.search_runs(RunQuery(sort=Sort("metrics.r2"), after=(1.0, "x")))
    finally:
        store.close()

"""The store's own cache as a cache index: the contract suite, limits across reopen, LRU by hits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowy.kernel.cache_index import CacheIndex, CacheLimits, StoreCacheIndex
from flowy.kernel.records import ArtifactRef, CacheEntry
from flowy.testing.cache_index import CacheIndexContract
from flowy.testing.records_factory import make_run, make_step
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.sqlite import SQLiteMetadataStore


@pytest.fixture(params=["sqlite", "sql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    s = SQLiteMetadataStore(url) if request.param == "sqlite" else SQLMetadataStore(url)
    yield s
    s.close()


class TestStoreCacheIndex(CacheIndexContract):
    @pytest.fixture
    def index(self, store: SQLiteMetadataStore) -> StoreCacheIndex:
        return StoreCacheIndex(store)

    def publish(self, index: CacheIndex, entry: CacheEntry, refs: dict[str, ArtifactRef]) -> None:
        """The store records an entry with the step that made it."""
        assert isinstance(index, StoreCacheIndex)
        run = make_run(entry.pipeline, started_at=entry.created_at - 2)
        index.store.create_run(run)
        outputs = {n: r.artifact_id for n, r in refs.items()}
        step = make_step(run, entry.step, outputs=outputs, cache_key=entry.key)
        index.store.record_step(step, list(refs.values()), [], entry)


def test_a_cached_step_record_marks_its_entry_used(store: SQLiteMetadataStore) -> None:
    """The hit a cached step's record counts also makes its entry the most recently used."""
    suite = TestStoreCacheIndex()
    index = StoreCacheIndex(store)
    t0 = time.time() - 50
    a, _ = suite.entry(index, step="a", created_at=t0)
    b, _ = suite.entry(index, step="b", created_at=t0 + 1)
    rerun = make_run("train", started_at=t0 + 10)
    store.create_run(rerun)
    cached = make_step(
        rerun, "a", status="cached", cache_key=a.key, outputs=dict(a.outputs),
        started_at=t0 + 20, finished_at=t0 + 20,
    )  # fmt: skip
    store.record_steps([cached])
    store.set_cache_limits("train", CacheLimits(max_bytes=150))
    gone = store.evict_cache("train", time.time())
    assert [(e.key, e.reason) for e in gone] == [(b.key, "size")]
    assert store.lookup_cache(a.key) is not None


def test_no_limits_evicts_nothing_and_limits_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    store = SQLiteMetadataStore(url)
    assert store.evict_cache(None, time.time()) == []
    store.set_cache_limits("", CacheLimits(ttl=3600.0, max_bytes=10**9))
    store.close()
    again = SQLiteMetadataStore(url)
    assert again.cache_limits() == {"": CacheLimits(ttl=3600.0, max_bytes=10**9)}
    again.close()

"""The cache index contract (:class:`flowy.kernel.cache_index.CacheIndex`), as tests.

Subclass :class:`CacheIndexContract` and give it an ``index`` fixture (an empty
index). An index whose entries are written some other way than
:meth:`~flowy.kernel.cache_index.CacheIndex.publish` (the metadata store's own,
which records an entry with its step) overrides :meth:`CacheIndexContract.publish`.
flowy-core runs it on :class:`~flowy.kernel.cache_index.StoreCacheIndex` over the
SQL store; flowy-cache-redis on Redis.
"""

from __future__ import annotations

import time
import uuid

from flowy.kernel.cache_index import EVERY_PIPELINE, CacheIndex, CacheLimits
from flowy.kernel.records import ArtifactRef, CacheEntry
from flowy.testing.records_factory import make_artifact, make_entry, make_run


class CacheIndexContract:
    """What the engine, ``flowy cache`` and ``flowy gc`` rely on of a cache index."""

    def publish(self, index: CacheIndex, entry: CacheEntry, refs: dict[str, ArtifactRef]) -> None:
        """Put ``entry`` with its outputs' records in ``index`` (override if not by publish)."""
        index.publish(entry, refs)

    def entry(
        self,
        index: CacheIndex,
        pipeline: str = "train",
        step: str = "fit",
        size: int = 100,
        created_at: float | None = None,
    ) -> tuple[CacheEntry, dict[str, ArtifactRef]]:
        run = make_run(pipeline, started_at=(created_at or time.time()) - 2)
        art = make_artifact("model", size=size, uri=f"/store/{uuid.uuid4().hex}/model")
        entry = make_entry(run, step, {"model": art.artifact_id})
        refs = {"model": art}
        self.publish(index, entry, refs)
        return entry, refs

    def test_lookup_returns_the_entry_and_its_outputs(self, index: CacheIndex) -> None:
        assert index.lookup("nope") is None
        entry, refs = self.entry(index)
        found = index.lookup(entry.key)
        assert found is not None
        got, got_refs = found
        assert (got.key, got.pipeline, got.step, got.outputs) == (
            entry.key,
            entry.pipeline,
            entry.step,
            entry.outputs,
        )
        assert got.components == entry.components
        assert got_refs == refs  # every field: a machine without the rows can load them
        assert index.stats()["hits"] == 0  # a lookup is a pure read

    def test_hits_are_counted_in_a_batch(self, index: CacheIndex) -> None:
        entry, _ = self.entry(index)
        index.record_hits([entry.key, entry.key, "missing"], time.time())
        assert index.stats()["hits"] == 2

    def test_limits_are_set_and_removed(self, index: CacheIndex) -> None:
        assert index.limits() == {}
        index.set_limits("train", CacheLimits(ttl=60.0, max_bytes=1000))
        index.set_limits(EVERY_PIPELINE, CacheLimits(ttl=3600.0))
        assert index.limits() == {
            "train": CacheLimits(ttl=60.0, max_bytes=1000),
            EVERY_PIPELINE: CacheLimits(ttl=3600.0),
        }
        index.set_limits("train", None)
        assert index.limits() == {EVERY_PIPELINE: CacheLimits(ttl=3600.0)}

    def test_entries_past_their_ttl_are_evicted(self, index: CacheIndex) -> None:
        now = time.time()
        old, _ = self.entry(index, step="old", created_at=now - 120)
        fresh, _ = self.entry(index, step="fresh", created_at=now - 1)
        other, _ = self.entry(index, pipeline="other", step="old", created_at=now - 120)
        index.set_limits("train", CacheLimits(ttl=60.0))
        gone = index.evict("train", now)
        assert {e.key for e in gone} == {old.key}
        assert all(e.reason == "ttl" for e in gone)
        assert index.lookup(old.key) is None
        assert index.lookup(fresh.key) is not None
        assert index.lookup(other.key) is not None  # another pipeline, without limits

    def test_the_least_recently_used_go_over_budget(self, index: CacheIndex) -> None:
        t0 = time.time() - 5
        a, _ = self.entry(index, step="a", size=100, created_at=t0)
        b, _ = self.entry(index, step="b", size=100, created_at=t0 + 1)
        index.record_hits([a.key], time.time() + 10)  # a is now the most recently used
        index.set_limits(EVERY_PIPELINE, CacheLimits(max_bytes=250))
        c, _ = self.entry(index, step="c", size=100, created_at=t0 + 2)
        index.evict(None, time.time())
        assert index.lookup(b.key) is None
        assert index.lookup(a.key) is not None
        assert index.lookup(c.key) is not None
        assert index.stats()["entries"] == 2

    def test_live_uris_name_what_a_shared_index_holds(self, index: CacheIndex) -> None:
        entry, refs = self.entry(index)
        if index.shared:
            assert refs["model"].uri in index.live_uris()
        index.clear()
        assert refs["model"].uri not in index.live_uris()
        assert index.lookup(entry.key) is None

    def test_clear_and_stats(self, index: CacheIndex) -> None:
        self.entry(index, "train", "a")
        self.entry(index, "train", "b")
        self.entry(index, "eval", "a")
        stats = index.stats()
        assert stats["entries"] == 3
        assert stats["pipelines"] == {"train": 2, "eval": 1}
        assert index.clear("train", "b") == 1
        assert index.clear(step="a") == 2
        assert index.clear() == 0
        assert index.stats()["entries"] == 0

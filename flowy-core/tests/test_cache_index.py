"""The cache index contract: its suite on a small in-memory index, limits, and the run's guard.

flowy-store-sqlite runs the suite on the store's own cache, flowy-cache-redis on Redis;
here a dictionary shows what an index must do, and :class:`SharedCache` shows that any
exception of an index is a miss with one warning, never a failed run.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from flowy.kernel.cache_index import (
    EVERY_PIPELINE,
    SIZE,
    TTL,
    CacheHit,
    CacheIndex,
    CacheLimits,
    Evicted,
    limits_for,
)
from flowy.kernel.errors import ArtifactNotFoundError
from flowy.kernel.records import ArtifactRef, CacheEntry
from flowy.run.shared_cache import SharedCache, SharedCacheWarning
from flowy.testing.cache_index import CacheIndexContract
from flowy.testing.records_factory import make_artifact, make_entry, make_run


class DictIndex(CacheIndex):
    """Entries in a dict: the contract in as few lines as it takes."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[CacheEntry, dict[str, ArtifactRef], float]] = {}
        self.hits = 0
        self._limits: dict[str, CacheLimits] = {}

    def lookup(self, key: str) -> CacheHit | None:
        found = self.entries.get(key)
        return None if found is None else (found[0], dict(found[1]))

    def publish(self, entry: CacheEntry, refs: Mapping[str, ArtifactRef]) -> None:
        self.entries[entry.key] = (entry, dict(refs), time.time())

    def record_hits(self, keys: Sequence[str], at: float | None = None) -> None:
        for key in keys:
            if key in self.entries:
                entry, refs, _ = self.entries[key]
                self.entries[key] = (entry, refs, at or time.time())
                self.hits += 1

    def limits(self) -> dict[str, CacheLimits]:
        return dict(self._limits)

    def set_limits(self, pipeline: str, limits: CacheLimits | None) -> None:
        if limits is None or limits.empty:
            self._limits.pop(pipeline, None)
        else:
            self._limits[pipeline] = limits

    def evict(self, pipeline: str | None = None, now: float | None = None) -> list[Evicted]:
        now = time.time() if now is None else now
        gone: list[Evicted] = []
        for name in {e.pipeline for e, _, _ in self.entries.values()}:
            if pipeline not in (None, name):
                continue
            limit = limits_for(self._limits, name)
            mine = sorted(
                ((k, v) for k, v in self.entries.items() if v[0].pipeline == name),
                key=lambda kv: -kv[1][2],
            )
            total = 0
            for key, (entry, refs, _used) in mine:
                size = sum(r.size for r in refs.values())
                if limit.ttl is not None and entry.created_at + limit.ttl <= now:
                    gone.append(Evicted(key, name, entry.step, TTL, size))
                    continue
                total += size
                if limit.max_bytes is not None and total > limit.max_bytes:
                    gone.append(Evicted(key, name, entry.step, SIZE, size))
        for e in gone:
            del self.entries[e.key]
        return gone

    def live_uris(self) -> set[str]:
        return {r.uri for _, refs, _ in self.entries.values() for r in refs.values()}

    def stats(self) -> dict[str, Any]:
        per: dict[str, int] = {}
        for entry, _, _ in self.entries.values():
            per[entry.pipeline] = per.get(entry.pipeline, 0) + 1
        return {"entries": len(self.entries), "hits": self.hits, "bytes": 0, "pipelines": per}

    def clear(self, pipeline: str | None = None, step: str | None = None) -> int:
        doomed = [
            k
            for k, (e, _, _) in self.entries.items()
            if pipeline in (None, e.pipeline) and step in (None, e.step)
        ]
        for k in doomed:
            del self.entries[k]
        return len(doomed)


class TestDictIndex(CacheIndexContract):
    @pytest.fixture
    def index(self) -> DictIndex:
        return DictIndex()


def test_limits_validate_and_fall_back_to_every_pipeline() -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        CacheLimits(ttl=0)
    with pytest.raises(ValueError, match="0 or more bytes"):
        CacheLimits(max_bytes=-1)
    both = {EVERY_PIPELINE: CacheLimits(ttl=5.0), "train": CacheLimits(max_bytes=9)}
    assert limits_for(both, "train") == CacheLimits(max_bytes=9)
    assert limits_for(both, "other") == CacheLimits(ttl=5.0)
    assert limits_for({}, "x").empty


class BrokenIndex(DictIndex):
    calls = 0

    def lookup(self, key: str) -> CacheHit | None:
        self.calls += 1
        raise ConnectionError("connection refused")

    def describe(self) -> str:
        return "the broken index"


class Store:
    """What SharedCache reads of a metadata store: artifacts by id, and the limits' eviction."""

    def __init__(self, known: set[str]) -> None:
        self.known = known

    def get_artifact(self, artifact_id: str) -> ArtifactRef:
        if artifact_id not in self.known:
            raise ArtifactNotFoundError(artifact_id)
        return make_artifact(artifact_id=artifact_id)

    def evict_cache(self, pipeline: str | None, now: float) -> list[Evicted]:
        raise OSError("disk I/O error")


def test_a_failing_index_is_a_miss_with_one_warning_and_is_not_asked_again() -> None:
    index = BrokenIndex()
    shared = SharedCache(index, Store(set()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert shared.lookup("k1") is None
        assert shared.lookup("k2") is None
        shared.hits.append("k1")
        shared.finish()
    assert index.calls == 1
    assert [str(w.message) for w in caught if w.category is SharedCacheWarning] == [
        "The shared cache index (the broken index) failed to look up cache entries: "
        "ConnectionError: connection refused. This run goes on without it (its steps are "
        "looked up in the metadata store only); check the index's server and the stack's "
        "cache_index options."
    ]


def test_a_shared_hit_names_the_outputs_this_store_lacks() -> None:
    index = DictIndex()
    run = make_run()
    known, unknown = make_artifact("a"), make_artifact("b")
    entry = make_entry(run, "fit", {"a": known.artifact_id, "b": unknown.artifact_id})
    index.publish(entry, {"a": known, "b": unknown})
    shared = SharedCache(index, Store({known.artifact_id}))
    assert shared.lookup(entry.key) == (entry, {"a": known, "b": unknown})
    assert shared.imported == {entry.key: [unknown]}


def test_limits_that_cannot_be_applied_warn_and_the_run_goes_on() -> None:
    with pytest.warns(SharedCacheWarning, match="could not be applied"):
        SharedCache(None, Store(set())).start("train")

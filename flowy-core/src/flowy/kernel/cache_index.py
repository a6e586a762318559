"""The cache index contract: where cache entries are shared, counted, limited and evicted.

Every run looks a cacheable step's key up in its metadata store first (the
store's own cache, what a stack without a ``cache_index`` uses). A stack may
name a ``cache_index`` component as well (flowy-cache-redis registers
``redis``): a second, *shared* index that machines which do not share a
metadata database consult on a local miss. Its entries carry the full records
of their outputs (:class:`~flowy.kernel.records.ArtifactRef`: URI, checksum,
materializer), so a machine that has no row for them can serve the hit from the
shared artifact store; the engine then records those artifacts and the entry in
its own store, in the cached step's record.

An index keeps entries for a time (``ttl``) and within a size budget per
pipeline (``max_bytes``: the sum of the sizes of the entries' outputs), evicting
the least recently used entries first. What an index still holds
(:meth:`CacheIndex.live_uris`) is never collected by ``flowy gc``; what it
evicted no longer holds anything back.

The contract suite is ``flowy.testing.cache_index.CacheIndexContract``; the
metadata store's own cache passes it through :class:`StoreCacheIndex`.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from flowy.kernel.cache_limits import (
    EVERY_PIPELINE,
    SIZE,
    TTL,
    CacheLimits,
    Evicted,
    limits_for,
)
from flowy.kernel.component import Component

if TYPE_CHECKING:
    from flowy.kernel.metadata_store import MetadataStore
    from flowy.kernel.records import ArtifactRef, CacheEntry

#: A hit: the entry and the records of its outputs, by output name.
CacheHit = tuple["CacheEntry", dict[str, "ArtifactRef"]]

__all__ = [
    "EVERY_PIPELINE",
    "SIZE",
    "TTL",
    "CacheHit",
    "CacheIndex",
    "CacheLimits",
    "Evicted",
    "StoreCacheIndex",
    "limits_for",
]


class CacheIndex(Component, abc.ABC):
    """Answers cache lookups by key; counts hits; keeps entries within their limits.

    Implementations must be safe to call from the orchestrating process only
    (the engine is the single caller during a run) and must treat a lookup as a
    pure read: hits are reported afterwards, in a batch, by :meth:`record_hits`.
    A failing call raises: the engine turns any exception of a shared index
    into a cache miss with one warning per run, so an outage never fails a run.
    """

    #: Whether entries may come from other metadata stores (their outputs may have no
    #: artifact row here). The engine records such a hit's artifacts in its own store.
    shared: ClassVar[bool] = True

    @abc.abstractmethod
    def lookup(self, key: str) -> CacheHit | None:
        """The live entry for ``key`` with its outputs' records, or None. A pure read."""

    @abc.abstractmethod
    def publish(self, entry: CacheEntry, refs: Mapping[str, ArtifactRef]) -> None:
        """Offer a new entry (a completed step's) with its outputs' records.

        Replaces an entry with the same key; it then lives for the ttl of its
        pipeline's limits from ``entry.created_at``, and may evict the least
        recently used entries of its pipeline to stay within the size budget.
        """

    @abc.abstractmethod
    def record_hits(self, keys: Sequence[str], at: float | None = None) -> None:
        """Count one hit on each of ``keys`` (repeats count again) used at ``at``.

        Marks the entries used for the least-recently-used order. Keys with no
        live entry are ignored. The engine calls it once per run, at its end.
        """

    @abc.abstractmethod
    def limits(self) -> dict[str, CacheLimits]:
        """The limits set, by pipeline (:data:`EVERY_PIPELINE` for the default)."""

    @abc.abstractmethod
    def set_limits(self, pipeline: str, limits: CacheLimits | None) -> None:
        """Set (None or empty: remove) the limits of ``pipeline`` (or :data:`EVERY_PIPELINE`).

        They apply to entries already there from the next :meth:`evict`.
        """

    @abc.abstractmethod
    def evict(self, pipeline: str | None = None, now: float | None = None) -> list[Evicted]:
        """Drop the entries past their ttl, then the least recently used over budget.

        Of ``pipeline`` only, or of every pipeline when None. Returns what went.
        """

    @abc.abstractmethod
    def live_uris(self) -> set[str]:
        """The URIs of the outputs of every live entry: what ``flowy gc`` keeps."""

    @abc.abstractmethod
    def stats(self) -> dict[str, Any]:
        """``{"entries": n, "hits": n, "bytes": n, "pipelines": {pipeline: entries}}``."""

    @abc.abstractmethod
    def clear(self, pipeline: str | None = None, step: str | None = None) -> int:
        """Delete matching entries (all when both are None); return how many went."""

    def describe(self) -> str:
        """Where the index lives, for messages (no secrets)."""
        return type(self).__name__


class StoreCacheIndex(CacheIndex):
    """The metadata store's own cache, seen as an index (what a stack uses by default).

    The store records an entry in the transaction of the step that made it, so
    :meth:`publish` writes nothing; a cached step's record counts its hit in its
    own transaction, so :meth:`record_hits` writes nothing either during a run
    (it exists for callers outside one). Every output of its entries has an
    artifact row, which ``flowy gc`` keeps anyway: :meth:`live_uris` is empty.
    """

    shared = False

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def lookup(self, key: str) -> CacheHit | None:
        return self.store.lookup_cache_outputs(key)

    def publish(self, entry: CacheEntry, refs: Mapping[str, ArtifactRef]) -> None:
        """Nothing: the store records the entry with its step (see the class docstring)."""

    def record_hits(self, keys: Sequence[str], at: float | None = None) -> None:
        for key in keys:
            self.store.record_cache_hit(key)

    def limits(self) -> dict[str, CacheLimits]:
        return self.store.cache_limits()

    def set_limits(self, pipeline: str, limits: CacheLimits | None) -> None:
        self.store.set_cache_limits(pipeline, None if limits is None or limits.empty else limits)

    def evict(self, pipeline: str | None = None, now: float | None = None) -> list[Evicted]:
        return self.store.evict_cache(pipeline, time.time() if now is None else now)

    def live_uris(self) -> set[str]:
        return set()

    def stats(self) -> dict[str, Any]:
        return self.store.cache_stats()

    def clear(self, pipeline: str | None = None, step: str | None = None) -> int:
        return self.store.delete_cache(pipeline=pipeline, step=step)

    def describe(self) -> str:
        return "the metadata store's cache"

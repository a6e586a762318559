"""A run's use of its stack's shared cache index (``cache_index``), and of the store's limits.

The metadata store's own cache answers first (:meth:`RunPlanner.cache_hit`);
on a miss the shared index (flowy-cache-redis's ``redis``, or any plugin's
:class:`~flowy.kernel.cache_index.CacheIndex`) is asked. A hit from it may name
artifacts this store has never recorded: they are recorded with the cached
step, with the entry, so the next run finds them here. Completed steps'
entries are published to it; hits are reported to it once, when the run ends.

A shared index is a convenience, never a dependency: the first exception it
raises becomes one :class:`SharedCacheWarning` and the index is not asked
again during the run (every later lookup is a miss). Without a shared index
this class costs one attribute test per cached step.

When the run starts, the store's own cache limits (``flowy cache limits``) are
applied to its pipeline (:meth:`~flowy.kernel.metadata_store.MetadataStore.evict_cache`):
one read of the limits, and a delete only when entries are due.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowy.kernel.errors import ArtifactNotFoundError

if TYPE_CHECKING:
    from flowy.kernel.cache_index import CacheHit, CacheIndex
    from flowy.kernel.records import ArtifactRef, CacheEntry


class SharedCacheWarning(UserWarning):
    """The shared cache index failed; the run goes on without it (cache misses)."""


class SharedCache:
    """The shared index of one run, guarded: failures are misses, warned about once."""

    def __init__(self, index: CacheIndex | None, store: Any) -> None:
        self.index = index
        self.store = store
        self.hits: list[str] = []
        """Keys of every cached step of the run (from the store or the index), for the index."""
        self.imported: dict[str, list[ArtifactRef]] = {}
        """Key -> the outputs of a hit from the index that this store has no record of
        (the entry itself is recorded here with the cached step, even when that is none)."""

    def start(self, pipeline: str) -> None:
        """Apply the store's cache limits to ``pipeline`` (a failure is warned about)."""
        try:
            self.store.evict_cache(pipeline, time.time())
        except Exception as exc:  # noqa: BLE001 - limits are housekeeping: never a failed run
            warnings.warn(
                f"The cache limits of pipeline {pipeline!r} could not be applied "
                f"({type(exc).__name__}: {exc}); entries past them may still be served.",
                SharedCacheWarning,
                stacklevel=2,
            )

    def lookup(self, key: str) -> CacheHit | None:
        """The index's hit for ``key`` (None: a miss, no index, or a failed index)."""
        if self.index is None:
            return None
        try:
            found = self.index.lookup(key)
        except Exception as exc:  # noqa: BLE001 - any failure of the index is a miss
            self._failed("look up cache entries", exc)
            return None
        if found is not None and self.index.shared:
            # Recorded with the cached step, with the entry, so the next run hits here.
            entry, refs = found
            self.imported[entry.key] = [r for r in refs.values() if not self._recorded(r)]
        return found

    def _recorded(self, ref: ArtifactRef) -> bool:
        try:
            self.store.get_artifact(ref.artifact_id)
        except ArtifactNotFoundError:
            return False
        return True

    def publish(self, entry: CacheEntry, refs: Mapping[str, ArtifactRef]) -> None:
        if self.index is None:
            return
        try:
            self.index.publish(entry, refs)
        except Exception as exc:  # noqa: BLE001 - any failure of the index is a miss
            self._failed("publish a cache entry", exc)

    def finish(self) -> None:
        """Report the run's hits to the index (one call), whatever the run's outcome."""
        if self.index is None or not self.hits:
            return
        try:
            self.index.record_hits(self.hits, time.time())
        except Exception as exc:  # noqa: BLE001 - any failure of the index is a miss
            self._failed("count cache hits", exc)

    def _failed(self, what: str, exc: Exception) -> None:
        assert self.index is not None
        where = self.index.describe()
        self.index = None  # one warning; the rest of the run does without it
        warnings.warn(
            f"The shared cache index ({where}) failed to {what}: {type(exc).__name__}: {exc}. "
            "This run goes on without it (its steps are looked up in the metadata store "
            "only); check the index's server and the stack's cache_index options.",
            SharedCacheWarning,
            stacklevel=3,
        )

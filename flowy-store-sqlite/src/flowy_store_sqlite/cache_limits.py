"""``flowy cache limits`` in the SQL stores: a ttl and a size budget per pipeline.

Limits live in the ``cache_limits`` table (pipeline ``""``: every pipeline
without its own). Each cache row carries its outputs' size and its last use
(its newest hit, written by the cached step's own record, so a hit costs no
extra write; else its creation). :meth:`CacheLimitMethods.evict_cache` drops
the rows past their ttl, then the least recently used beyond the budget; the
engine calls it once when a run starts, and with no limits set it costs one
read of a table that is empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from flowy.kernel.cache_index import SIZE, TTL, CacheLimits, Evicted, limits_for


class CacheLimitMethods:
    """Limits and eviction over a store's ``Q``, ``_select`` and ``_execute``."""

    Q: ClassVar[Any]

    def _select(self, *queries: tuple[Any, Mapping[str, Any]]) -> list[Any]:
        raise NotImplementedError

    def _execute(self, *writes: tuple[Any, Sequence[Mapping[str, Any]]]) -> list[int]:
        raise NotImplementedError

    def cache_limits(self) -> dict[str, CacheLimits]:
        (rows,) = self._select((self.Q.CACHE_LIMITS, {}))
        return {
            r["pipeline"]: CacheLimits(
                ttl=r["ttl"], max_bytes=None if r["max_bytes"] is None else int(r["max_bytes"])
            )
            for r in rows
        }

    def set_cache_limits(self, pipeline: str, limits: CacheLimits | None) -> None:
        writes: list[tuple[Any, Sequence[Mapping[str, Any]]]] = [
            (self.Q.DELETE_CACHE_LIMITS, [{"where_pipeline": pipeline}])
        ]
        if limits is not None and not limits.empty:
            row = {"pipeline": pipeline, "ttl": limits.ttl, "max_bytes": limits.max_bytes}
            writes.append((self.Q.INSERT_CACHE_LIMITS, [row]))
        self._execute(*writes)  # one transaction

    def evict_cache(self, pipeline: str | None, now: float) -> list[Evicted]:
        limits = self.cache_limits()
        if not limits:
            return []
        if pipeline is None:
            (rows,) = self._select((self.Q.CACHE_PIPELINES, {}))
            pipelines = [r["pipeline"] for r in rows]
        else:
            pipelines = [pipeline]
        evicted: list[Evicted] = []
        for name in pipelines:
            limit = limits_for(limits, name)
            if not limit.empty:
                (rows,) = self._select((self.Q.CACHE_USAGE, {"pipeline": name}))
                evicted += due(name, rows, limit, now)
        if evicted:
            self._execute((self.Q.DELETE_CACHE, [{"where_key": e.key} for e in evicted]))
        return evicted


def due(
    pipeline: str, rows: Sequence[Mapping[str, Any]], limit: CacheLimits, now: float
) -> list[Evicted]:
    """Which of ``pipeline``'s entries (key, step, created_at, used, size) go, and why."""
    gone: list[Evicted] = []
    kept: list[Mapping[str, Any]] = []
    for row in rows:
        if limit.ttl is not None and row["created_at"] + limit.ttl <= now:
            gone.append(Evicted(row["key"], pipeline, row["step"], TTL, int(row["size"])))
        else:
            kept.append(row)
    if limit.max_bytes is not None:
        total = 0
        # Newest use first; ties (same instant) by key, so the choice is repeatable.
        for row in sorted(kept, key=lambda r: (-r["used"], r["key"])):
            total += int(row["size"])
            if total > limit.max_bytes:
                gone.append(Evicted(row["key"], pipeline, row["step"], SIZE, int(row["size"])))
    return gone

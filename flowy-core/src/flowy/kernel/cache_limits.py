"""Cache limits: how long cache entries live and how many bytes a pipeline's entries hold.

Records shared by the metadata store contract (``cache_limits``, ``evict_cache``) and
the cache index contract (:mod:`flowy.kernel.cache_index`), in a module of their own so
that neither contract imports the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

#: The pipeline name under which the limits of every pipeline without its own are kept.
EVERY_PIPELINE = ""

TTL = "ttl"
SIZE = "size"


@attrs.frozen
class CacheLimits:
    """How long entries live and how many bytes of outputs a pipeline's entries may hold."""

    ttl: float | None = None
    """Seconds an entry is served after it was recorded; None: no end."""
    max_bytes: int | None = None
    """The budget of one pipeline's entries (sum of their outputs' sizes); None: no budget.
    Over it, the least recently used entries (hit or recorded) are evicted first."""

    def __attrs_post_init__(self) -> None:
        if self.ttl is not None and not (self.ttl > 0 and math.isfinite(self.ttl)):
            raise ValueError(f"a cache TTL must be a positive number of seconds, not {self.ttl!r}")
        if self.max_bytes is not None and self.max_bytes < 0:
            raise ValueError(f"a cache size budget must be 0 or more bytes, not {self.max_bytes!r}")

    @property
    def empty(self) -> bool:
        return self.ttl is None and self.max_bytes is None

    def to_json(self) -> dict[str, Any]:
        return {"ttl": self.ttl, "max_bytes": self.max_bytes}


@attrs.frozen
class Evicted:
    """An entry an index dropped, and why (:data:`TTL` or :data:`SIZE`)."""

    key: str
    pipeline: str
    step: str
    reason: str
    size: int = 0


def limits_for(limits: Mapping[str, CacheLimits], pipeline: str) -> CacheLimits:
    """The limits that apply to ``pipeline``: its own, else those of every pipeline."""
    return limits.get(pipeline) or limits.get(EVERY_PIPELINE) or CacheLimits()

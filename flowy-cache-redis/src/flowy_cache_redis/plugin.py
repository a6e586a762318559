"""Entry-point module of flowy-cache-redis (group ``flowy``).

Imports only ``flowy`` and the standard library and registers a dotted path:
the ``redis`` client loads when a stack resolves its ``cache_index``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.registry import Register


@hookimpl
def flowy_register_cache_indexes(register: Register) -> None:
    register(
        "redis",
        "flowy_cache_redis.index:RedisCacheIndex",
        description="Cache entries and hits in Redis, shared by machines without a shared "
        "metadata database; ttl and LRU size budget per pipeline.",
    )

"""The cache index contract suite on a real redis-server, and the index's own errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flowy.testing.cache_index import CacheIndexContract
from flowy_cache_redis.index import RedisCacheIndex

pytestmark = pytest.mark.slow


class TestRedisCacheIndex(CacheIndexContract):
    @pytest.fixture
    def index(self, redis_url: str) -> Iterator[RedisCacheIndex]:
        idx = RedisCacheIndex(url=redis_url)
        yield idx
        idx.close()


def test_prefixes_keep_projects_apart(redis_url: str) -> None:
    suite = TestRedisCacheIndex()
    one, two = RedisCacheIndex(url=redis_url, prefix="one"), RedisCacheIndex(url=redis_url)
    entry, _ = suite.entry(one)
    assert two.lookup(entry.key) is None
    assert two.stats()["entries"] == 0 and one.stats()["entries"] == 1


def test_publishing_keeps_each_pipeline_within_its_budget(redis_url: str) -> None:
    from flowy.kernel.cache_index import EVERY_PIPELINE, CacheLimits

    suite = TestRedisCacheIndex()
    index = RedisCacheIndex(url=redis_url)
    index.set_limits(EVERY_PIPELINE, CacheLimits(max_bytes=1000))
    keys = [suite.entry(index, step=f"s{i}", size=100)[0].key for i in range(30)]
    stats = index.stats()
    assert (stats["entries"], stats["bytes"]) == (10, 1000)
    assert [k for k in keys if index.lookup(k) is not None] == keys[-10:]  # the newest stay
    old, _ = suite.entry(index, step="old", created_at=1000.0)  # long past a ttl: never live
    index.set_limits(EVERY_PIPELINE, CacheLimits(ttl=60.0))
    late, _ = suite.entry(index, step="late", created_at=1000.0)
    assert index.lookup(late.key) is None
    assert index.lookup(old.key) is not None  # published before the ttl was set...
    assert old.key in {e.key for e in index.evict()}  # ...until limits are applied


def test_a_bad_url_is_a_clear_error_when_the_stack_resolves(plugins: Any) -> None:
    from flowy.kernel.errors import FlowyError

    reg = plugins.registry.get("cache_index", "redis")
    cls = reg.load()
    with pytest.raises(ValueError, match=r"redis://HOST:PORT/DB"):
        cls(url="http://example.com:6379")
    with pytest.raises(ValueError, match="timeout"):
        cls(url="redis://127.0.0.1:6379/0", timeout=-1)
    assert issubclass(FlowyError, Exception)


def test_an_unreachable_server_is_a_clear_error(redis_server: object) -> None:
    from flowy_cache_redis.index import RedisUnavailableError

    idx = RedisCacheIndex(url="redis://127.0.0.1:9/0", timeout=0.2)
    for call in (lambda: idx.lookup("k"), idx.stats, lambda: idx.set_limits("", None)):
        with pytest.raises(RedisUnavailableError, match=r"Redis at redis://127.0.0.1:9/0 did"):
            call()


def test_discovering_the_plugin_imports_no_redis() -> None:
    import os
    import subprocess
    import sys

    code = (
        "import sys; from flowy.kernel.plugins import create_plugin_manager; "
        "pm = create_plugin_manager(); assert 'redis' in pm.registry.names('cache_index'); "
        "assert 'redis' not in sys.modules, 'redis imported on discovery'"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWY_")}
    env["FLOWY_LOAD_PLUGINS"] = "flowy-cache-redis"  # found through its entry point, alone
    subprocess.run([sys.executable, "-c", code], check=True, env=env)

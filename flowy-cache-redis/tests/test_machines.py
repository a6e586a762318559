"""Two machines (two metadata stores, one artifact folder, one redis-server) share cache hits.

Real runs on the local executor; the second machine has no row of what the first
computed and serves every step from the shared index; TTL, LRU eviction by size,
``flowy gc`` and a Redis outage (the server killed mid-suite) on the same setup.
"""

from __future__ import annotations

import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.cache_index import EVERY_PIPELINE, CacheLimits
from flowy.run import load_pipeline
from flowy.run.engine import run_pipeline
from flowy.run.shared_cache import SharedCacheWarning
from flowy.tracking import Client, Retention
from flowy.tracking import collect_garbage as collect
from flowy_cache_redis.index import RedisCacheIndex

pytestmark = pytest.mark.slow

SOURCE = textwrap.dedent(
    """
    from flowy import Pipeline, step

    @step
    def numbers() -> list:
        return list(range(1000))

    @step
    def total(numbers: list) -> int:
        return sum(numbers)

    pipeline = Pipeline("shared", [numbers, total])
    """
)


@pytest.fixture
def setup(
    tmp_path: Path, redis_url: str, machine: Any, monkeypatch: pytest.MonkeyPatch, plugins: Any
) -> dict[str, Any]:
    # A new machine's empty database beside a shared folder already full of artifacts is
    # refused unless allowed (flowy.artifacts.rebuild.check_index): what joining a
    # shared artifact store takes, once (docs/caching.md).
    monkeypatch.setenv("FLOWY_ALLOW_NEW_INDEX", "1")
    module = tmp_path / "pipe.py"
    module.write_text(SOURCE)
    shared = tmp_path / "artifacts"
    return {
        "pipeline": load_pipeline(module),
        "a": machine(tmp_path, shared, redis_url, "a"),
        "b": machine(tmp_path, shared, redis_url, "b"),
        "c": machine(tmp_path, shared, redis_url, "c"),
        "shared": shared,
        "url": redis_url,
        "plugins": plugins,
    }


def _run(setup: dict[str, Any], machine: str) -> Any:
    return run_pipeline(
        setup["pipeline"], "shared", plugins=setup["plugins"], project=setup[machine]
    )


def _statuses(result: Any) -> dict[str, str]:
    return {name: rec.status for name, rec in result.steps.items()}


def test_the_second_machine_hits_what_the_first_computed(setup: dict[str, Any]) -> None:
    first = _run(setup, "a")
    assert _statuses(first) == {"numbers": "completed", "total": "completed"}
    second = _run(setup, "b")
    assert _statuses(second) == {"numbers": "cached", "total": "cached"}
    assert second["total"] == sum(range(1000))
    with Client("shared", setup["b"], plugins=setup["plugins"]) as client:
        # b recorded the artifacts it had no rows for, and the entries: its next run hits locally
        out = client.steps(second.run_id)[1].outputs["total"]
        assert client.store.get_artifact(out).uri.startswith(str(setup["shared"]))
        assert client.store.cache_stats()["entries"] == 2
    index = RedisCacheIndex(url=setup["url"])
    assert index.stats()["hits"] == 2
    third = _run(setup, "b")
    assert _statuses(third) == {"numbers": "cached", "total": "cached"}
    assert index.stats()["hits"] == 4  # local hits are reported too (recency for LRU)


def test_entries_expire_after_their_ttl(setup: dict[str, Any]) -> None:
    index = RedisCacheIndex(url=setup["url"])
    index.set_limits(EVERY_PIPELINE, CacheLimits(ttl=1.0))
    _run(setup, "a")
    deadline = time.monotonic() + 30
    while index.stats()["entries"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert index.stats()["entries"] == 0
    assert set(_statuses(_run(setup, "b")).values()) == {"completed"}


def test_lru_eviction_by_size_and_gc_collects_what_only_evicted_entries_held(
    setup: dict[str, Any],
) -> None:
    index = RedisCacheIndex(url=setup["url"])
    _run(setup, "a")
    files = sorted(p for p in setup["shared"].rglob("*") if p.is_file() and p.name[0] != ".")
    assert len(files) == 2
    # Machine c recorded nothing: without the index its gc would take a's files as garbage.
    with Client("shared", setup["c"], plugins=setup["plugins"]) as client:
        report = collect(client.store, client.artifact_store, Retention(), keep=index.live_uris())
        assert report.files == []
    assert all(p.exists() for p in files)
    # A budget smaller than both outputs: the least recently used entries go.
    index.set_limits("shared", CacheLimits(max_bytes=1))
    gone = index.evict("shared")
    assert {e.reason for e in gone} == {"size"} and len(gone) == 2
    with Client("shared", setup["c"], plugins=setup["plugins"]) as client:
        report = collect(client.store, client.artifact_store, Retention(), keep=index.live_uris())
    assert {Path(f.uri).name for f in report.files} >= {p.name for p in files}
    assert not any(p.exists() for p in files)


def test_a_redis_outage_is_a_miss_with_one_warning(
    setup: dict[str, Any], redis_server: Any
) -> None:
    _run(setup, "a")
    redis_server.stop()  # the server dies between the two machines' runs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _run(setup, "b")
    assert result.status == "completed"
    assert set(_statuses(result).values()) == {"completed"}  # misses, computed again
    shared = [w for w in caught if issubclass(w.category, SharedCacheWarning)]
    assert len(shared) == 1, [str(w.message) for w in shared]
    assert "redis at redis://127.0.0.1" in str(shared[0].message)


def test_a_shared_hit_on_outputs_known_here_still_records_the_entry(
    setup: dict[str, Any],
) -> None:
    _run(setup, "a")
    with Client("shared", setup["a"], plugins=setup["plugins"]) as client:
        assert client.store.delete_cache() == 2  # the store's own entries only
    again = _run(setup, "a")
    assert _statuses(again) == {"numbers": "cached", "total": "cached"}  # from Redis
    with Client("shared", setup["a"], plugins=setup["plugins"]) as client:
        assert client.store.cache_stats()["entries"] == 2  # recorded again, no new artifact
        assert len(client.artifacts(limit=100)) == 2

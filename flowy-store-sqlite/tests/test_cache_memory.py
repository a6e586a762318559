"""A cache hit of a step with many outputs reads them in memory linear in their number.

The entry's outputs JSON (one id per output) used to come back on every row of
the join with its artifacts: n outputs read n copies of an O(n) text, 4.3 GB at
10,000 outputs. The figures here are allocation peaks (tracemalloc), not times,
so a loaded machine measures the same; the end-to-end process figure is in
``benchmarks/cache_memory.py``.
"""

from __future__ import annotations

import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowy.kernel.records import ArtifactRef, CacheEntry, RunRecord, StepRunRecord
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.sqlite import SQLiteMetadataStore


def _record_wide_step(store: SQLMetadataStore, outputs: int) -> CacheEntry:
    """A completed step with ``outputs`` outputs and its cache entry; returns the entry."""
    run_id = uuid.uuid4().hex
    store.create_run(RunRecord(run_id, "wide", "running", started_at=time.time()))
    arts = [
        ArtifactRef(f"out{i}", f"/a/{run_id}/out{i}", "c" * 64, 8, "json", "1", "builtins.int",
                    {}, uuid.uuid4().hex)
        for i in range(outputs)
    ]  # fmt: skip
    ids = {a.name: a.artifact_id for a in arts}
    key = f"key-{outputs}-{run_id}"
    entry = CacheEntry(key, "wide", f"step{outputs}", run_id, {"code_hash": "h"}, ids, time.time())
    store.record_step(StepRunRecord(run_id, f"step{outputs}", "completed", 1.0, 2.0, 1, key,
                                    outputs=ids), arts, [], entry)  # fmt: skip
    return entry


def _peak(read: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        found = read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found  # the hit was served
    return peak


def _ratio(store: SQLMetadataStore, read: Callable[[CacheEntry], Any]) -> tuple[float, dict]:
    small, large = 400, 1600  # 4x the outputs: linear is ~4x the peak, the old join ~16x
    peaks = {}
    for n in (small, large):
        entry = _record_wide_step(store, n)
        peaks[n] = _peak(lambda e=entry: read(e))
    # In absolute terms too: a few KB per output (its record), not its entry's whole JSON.
    assert peaks[large] < 6_000 * large, peaks
    return peaks[large] / peaks[small], peaks


def test_cache_hit_by_key_memory_grows_linearly(sqlite_store: SQLMetadataStore) -> None:
    ratio, peaks = _ratio(sqlite_store, lambda e: sqlite_store.lookup_cache_outputs(e.key))
    assert ratio < 7, peaks


def test_newest_cache_hits_memory_grows_linearly(db_path: Path) -> None:
    store = SQLiteMetadataStore(f"sqlite:///{db_path}")  # the store that serves this hint
    try:
        ratio, peaks = _ratio(store, lambda e: store.latest_cache_outputs("wide", [e.step]))
    finally:
        store.close()
    assert ratio < 7, peaks

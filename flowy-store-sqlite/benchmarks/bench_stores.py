"""Per-step costs of the two stores, as the engine pays them.

``python flowy-store-sqlite/benchmarks/bench_stores.py [steps] [runs]`` records
``runs`` pipelines of ``steps`` steps each (one output artifact, one consumed
input, one metric, one cache entry per step, like a chain pipeline) into a
fresh SQLite file, and writes one small artifact per step to a local store.
The budget: the engine's whole per-step overhead is 2 ms, so ``record_step``
must stay well under 0.5 ms and an artifact write at tens of microseconds.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from flowy.kernel.records import ArtifactRef, CacheEntry, MetricRecord, RunRecord, StepRunRecord
from flowy_store_sqlite.local_store import LocalArtifactStore
from flowy_store_sqlite.metadata import SQLMetadataStore


def bench_record_step(folder: Path, steps: int, runs: int) -> list[float]:
    store = SQLMetadataStore(str(folder / "meta.db"))
    costs: list[float] = []
    for _ in range(runs):
        run_id = uuid.uuid4().hex
        store.create_run(RunRecord(run_id, "chain", "running", started_at=time.time()))
        previous: str | None = None
        for i in range(steps):
            aid = uuid.uuid4().hex
            ref = ArtifactRef("out", f"/a/{aid}", "c" * 64, 2, "json", "1", "builtins.int", {}, aid)
            rec = StepRunRecord(
                run_id,
                f"s{i}",
                "completed",
                1.0,
                2.0,
                1,
                f"k{aid}",
                "h",
                inputs={"x": previous} if previous else {},
                outputs={"out": aid},
            )
            entry = CacheEntry(f"k{aid}", "chain", f"s{i}", run_id, {"code": "h"}, {"out": aid})
            start = time.perf_counter()
            store.record_step(rec, [ref], [MetricRecord("loss", 0.1, i)], entry)
            costs.append(time.perf_counter() - start)
            previous = aid
        store.finish_run(run_id, "completed", time.time())
    store.close()
    return costs


def bench_artifact_write(folder: Path, count: int) -> list[float]:
    store = LocalArtifactStore(str(folder / "artifacts"))
    run = uuid.uuid4().hex
    costs: list[float] = []
    for i in range(count):
        start = time.perf_counter()
        with store.open_write(store.uri_for(f"{run}/s{i}/out.json")) as f:
            f.write(b"42")
        costs.append(time.perf_counter() - start)
    return costs


def bench_bare_floor(folder: Path, count: int) -> list[float]:
    """The same files with bare os calls (mkdir, open, write, rename): the disk's floor."""
    root = folder / "bare" / uuid.uuid4().hex
    costs: list[float] = []
    for i in range(count):
        start = time.perf_counter()
        target = root / f"s{i}"
        os.makedirs(target)
        with open(target / ".tmp", "wb") as f:
            f.write(b"42")
        os.replace(target / ".tmp", target / "out.json")
        costs.append(time.perf_counter() - start)
    return costs


def report(label: str, costs: list[float]) -> None:
    us = sorted(c * 1e6 for c in costs)
    print(
        f"{label:<28} mean {statistics.fmean(us):7.1f} us   median {us[len(us) // 2]:7.1f} us"
        f"   p95 {us[int(len(us) * 0.95)]:7.1f} us   (n={len(us)})"
    )


def main() -> None:
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with tempfile.TemporaryDirectory() as tmp:
        report("record_step (sqlite, WAL)", bench_record_step(Path(tmp), steps, runs))
        report("local artifact write", bench_artifact_write(Path(tmp), steps * runs))
        report("  floor: bare os calls", bench_bare_floor(Path(tmp), steps * runs))


if __name__ == "__main__":
    main()

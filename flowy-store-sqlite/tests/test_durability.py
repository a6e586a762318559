"""Crashes and concurrency with real processes: nothing half-written, nothing lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flowy_store_sqlite.metadata import SQLMetadataStore

#: Both SQLite store classes, as the writer subprocess imports them.
STORES = pytest.mark.parametrize(
    "store_class",
    [
        "flowy_store_sqlite.metadata:SQLMetadataStore",
        "flowy_store_sqlite.sqlite:SQLiteMetadataStore",
    ],
    ids=["sqlalchemy", "sqlite3"],
)

# A writer that records steps forever: each step has 3 artifacts, 3 produced and
# 1 consumed lineage edges, 2 metrics and a cache entry, all in one record_step.
_WRITER = """
import importlib, sys, time, uuid
from flowy.kernel.records import ArtifactRef, CacheEntry, MetricRecord, RunRecord, StepRunRecord

url, run_id, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
module, name = sys.argv[4].split(":")
store = getattr(importlib.import_module(module), name)(url)
store.create_run(RunRecord(run_id, "p", "running", params={"n": count}, started_at=time.time()))
previous = None
i = 0
while count < 0 or i < count:
    arts = [
        ArtifactRef(f"o{j}", f"/a/{i}/{j}", "c" * 64, 10, "json", "1", "builtins.int",
                    {"i": i}, uuid.uuid4().hex)
        for j in range(3)
    ]
    outputs = {a.name: a.artifact_id for a in arts}
    step = StepRunRecord(run_id, f"s{i}", "completed", 1.0, 2.0, 1, f"{run_id}-{i}",
                         inputs={"x": previous} if previous else {}, outputs=outputs)
    metrics = [MetricRecord("loss", 1.0 / (i + 1), 0), MetricRecord("loss", 0.5, 1)]
    entry = CacheEntry(f"{run_id}-{i}", "p", f"s{i}", run_id, {"c": "h"}, outputs, time.time())
    store.record_step(step, arts, metrics, entry)
    previous = arts[0].artifact_id
    i += 1
    if i == 20:
        print("ready", flush=True)
store.close()
print("done", flush=True)
"""


def _check_complete(db: Path) -> dict[str, int]:
    """Every recorded step has all its rows, and there are no rows without a step."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("step_runs", "artifacts", "lineage", "metrics", "cache_entries")
        }
        runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        per_run_first_steps = runs  # the first step of each run consumes nothing
    steps = counts["step_runs"]
    assert counts["artifacts"] == 3 * steps
    assert counts["metrics"] == 2 * steps
    assert counts["cache_entries"] == steps
    assert counts["lineage"] == 4 * steps - min(per_run_first_steps, steps)
    return counts


@STORES
def test_sigkill_mid_loop_leaves_only_complete_steps(db_path: Path, store_class: str) -> None:
    url = f"sqlite:///{db_path}"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, url, "r" * 32, "-1", store_class],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # let it get well into the loop, mid-transaction at some point
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    counts = _check_complete(db_path)
    assert counts["step_runs"] >= 20

    store = SQLMetadataStore(url)  # and the store opens it and reads it
    try:
        steps = store.get_step_runs("r" * 32)
        assert len(steps) == counts["step_runs"]
        assert [s.step for s in steps] == [f"s{i}" for i in range(len(steps))]
        assert store.get_run("rrrr").status == "running"
    finally:
        store.close()


@STORES
def test_two_processes_writing_concurrently_lose_nothing(db_path: Path, store_class: str) -> None:
    url = f"sqlite:///{db_path}"  # both race to create the database, too
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, name * 32, "300", store_class],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in "ab"
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.split() == ["ready", "done"]
    counts = _check_complete(db_path)
    assert counts["step_runs"] == 600
    store = SQLMetadataStore(url)
    try:
        for name in "ab":
            assert len(store.get_step_runs(name * 32)) == 300
            assert store.get_run(name * 4).params == {"n": 300}
    finally:
        store.close()

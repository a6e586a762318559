"""The SQL store beyond the contract: crashed runs, logs, options, plugin registration."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pydantic
import pytest
from flowy.kernel.errors import RunNotFoundError
from flowy.kernel.records import RunRecord, StepRunRecord
from flowy_store_sqlite import plugin
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.sqlite import SQLiteMetadataStore


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_mark_crashed_runs(sqlite_store: SQLMetadataStore) -> None:
    here = socket.gethostname()
    runs = {
        "dead": RunRecord("d" * 32, "p", "running", pid=_dead_pid(), host=here, started_at=1.0),
        "alive": RunRecord(
            "a" * 32, "p", "running", pid=os.getpid(), host=here, started_at=time.time()
        ),
        "elsewhere": RunRecord("e" * 32, "p", "running", pid=_dead_pid(), host="other-box"),
        "finished": RunRecord("f" * 32, "p", "completed", pid=_dead_pid(), host=here),
        "reused": RunRecord(  # our pid, but we started long after this run: pid reuse
            "b" * 32, "p", "running", pid=os.getpid(), host=here, started_at=1.0
        ),
    }
    for run in runs.values():
        sqlite_store.create_run(run)
    assert sqlite_store.mark_crashed_runs() == 2
    status = {k: sqlite_store.get_run(r.run_id).status for k, r in runs.items()}
    assert status == {
        "dead": "crashed",
        "alive": "running",
        "elsewhere": "running",
        "finished": "completed",
        "reused": "crashed",
    }
    assert sqlite_store.mark_crashed_runs() == 0


def test_get_logs(sqlite_store: SQLMetadataStore) -> None:
    run = RunRecord("c0ffee" + "0" * 26, "p", "running")
    sqlite_store.create_run(run)
    sqlite_store.record_step(StepRunRecord(run.run_id, "a", "completed", logs="hello\n"))
    sqlite_store.record_step(StepRunRecord(run.run_id, "b", "failed", logs="oops\n"))
    assert sqlite_store.get_logs("c0ffee") == {"a": "hello\n", "b": "oops\n"}
    assert sqlite_store.get_logs(run.run_id, step="b") == {"b": "oops\n"}
    with pytest.raises(RunNotFoundError, match="flowy runs list"):
        sqlite_store.get_logs("9999")


def test_params_table_and_unjsonable_values(sqlite_store: SQLMetadataStore) -> None:
    run = RunRecord("p" * 32, "p", "running", params={"lr": 0.1, "path": Path("/data")})
    sqlite_store.create_run(run)
    assert sqlite_store.get_run(run.run_id).params == {"lr": 0.1, "path": "/data"}
    with sqlite3.connect(sqlite_store.url.removeprefix("sqlite:///")) as conn:
        rows = conn.execute("SELECT name, value FROM params ORDER BY name").fetchall()
    assert rows == [("lr", "0.1"), ("path", '"/data"')]


def test_finish_unknown_run(sqlite_store: SQLMetadataStore) -> None:
    with pytest.raises(RunNotFoundError):
        sqlite_store.finish_run("nope", "completed", 1.0)


def test_options_model() -> None:
    options = SQLMetadataStore.Options(url="sqlite://")
    assert (options.fsync, options.busy_timeout) == (False, 30.0)
    assert set(SQLMetadataStore.Options.model_fields) == {"url", "fsync", "busy_timeout"}
    with pytest.raises(pydantic.ValidationError, match="journal"):
        SQLMetadataStore.Options(url="sqlite://", journal="off")


def test_closed_store_says_so(db_path: Path) -> None:
    store = SQLMetadataStore(str(db_path))
    store.close()
    store.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        store.list_runs()


def test_plugin_registers_both_stores() -> None:
    from flowy.kernel.plugins import FlowyPlugins

    manager = FlowyPlugins()
    manager.register(plugin, "flowy-store-sqlite", "flowy-store-sqlite", "0.1.0")
    registry = manager.registry
    assert registry.get("metadata_store", "sqlite").load() is SQLiteMetadataStore
    assert registry.get("metadata_store", "sql").load() is SQLMetadataStore
    from flowy_store_sqlite.local_store import LocalArtifactStore

    assert registry.get("artifact_store", "local").load() is LocalArtifactStore


def test_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, flowy_store_sqlite.plugin; "
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'fsspec', 'pydantic') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_driver_errors_surface_as_database_errors(sqlite_store: SQLMetadataStore) -> None:
    """A constraint violation raises the layer's own IntegrityError and writes nothing."""
    from sqlalchemy.exc import IntegrityError

    expected = IntegrityError if isinstance(sqlite_store, SQLMetadataStore) else sqlite3.Error
    with pytest.raises(expected, match="FOREIGN KEY"):  # the run was never created
        sqlite_store.record_step(StepRunRecord("n" * 32, "a", "completed"))
    assert sqlite_store.get_step_runs("n" * 32) == []


def test_set_based_experiment_reads(sqlite_store: SQLMetadataStore) -> None:
    """metrics_of_runs, step_runs_of_runs and artifact_producers, across IN-list chunks."""
    from flowy.kernel.records import ArtifactRef, MetricRecord

    run_ids = [f"{i:032d}" for i in range(600)]  # more ids than one IN (...) list holds
    for i, run_id in enumerate(run_ids):
        sqlite_store.create_run(RunRecord(run_id, "p", "completed", started_at=float(i)))
        ref = ArtifactRef("out", f"/a/{i}", "c" * 64, 1, "json", "1", "builtins.int", {},
                          f"a{i:031d}")  # fmt: skip
        sqlite_store.record_step(
            StepRunRecord(
                run_id, "fit", "completed", 1.0, 2.0, logs="noisy", outputs={"out": ref.artifact_id}
            ),
            [ref],
            [MetricRecord("loss", 1.0 / (i + 1), 0), MetricRecord("acc", 0.5)],
        )
        sqlite_store.record_step(StepRunRecord(run_id, "eval", "completed", 2.0, 3.0))
    metrics = sqlite_store.metrics_of_runs(run_ids[:550], steps=[(run_ids[599], "fit")])
    assert set(metrics) == {*run_ids[:550], run_ids[599]}
    assert [(step, m.name, m.value) for step, m in metrics[run_ids[3]]] == [
        ("fit", "loss", 0.25), ("fit", "acc", 0.5)
    ]  # fmt: skip
    steps = sqlite_store.step_runs_of_runs(run_ids)
    assert len(steps) == 600
    assert [s.step for s in steps[run_ids[7]]] == ["fit", "eval"]
    assert all(s.logs == "" for runs in steps.values() for s in runs)
    producers = sqlite_store.artifact_producers([f"a{i:031d}" for i in range(0, 600, 3)])
    assert len(producers) == 200
    assert producers[f"a{9:031d}"] == (run_ids[9], "fit")


def test_cache_outputs_without_sqlite_json_functions(db_path: Path) -> None:
    """A SQLite built without JSON functions answers one query per output, the same."""
    from flowy.kernel.records import ArtifactRef, CacheEntry

    store = SQLiteMetadataStore(str(db_path))
    try:
        run = RunRecord("j" * 32, "p", "running")
        store.create_run(run)
        ref = ArtifactRef("out", "/a/1", "c" * 64, 1, "json", "1", "builtins.int", {}, "a" * 32)
        entry = CacheEntry("k1", "p", "s", run.run_id, {"code_hash": "x"}, {"out": ref.artifact_id})
        store.record_step(StepRunRecord(run.run_id, "s", "completed"), [ref], [], entry)
        fast = store.lookup_cache_outputs("k1")
        assert fast is not None and fast[1] == {"out": ref}
        store._json_each = False
        assert store.lookup_cache_outputs("k1") == fast
        assert store.lookup_cache_outputs("missing") is None
    finally:
        store.close()


def test_latest_cache_outputs_answers_every_step_in_one_query(db_path: Path) -> None:
    from flowy.kernel.records import ArtifactRef, CacheEntry

    store = SQLiteMetadataStore(str(db_path))
    try:
        run = RunRecord("l" * 32, "p", "running")
        store.create_run(run)
        entries = {}
        for i in range(30):
            ref = ArtifactRef("out", f"/a/{i}", "c" * 64, 1, "json", "1", "builtins.int", {},
                              f"{i:032d}")  # fmt: skip
            entry = CacheEntry(f"k{i}", "p", f"s{i % 10}", run.run_id, {}, {"out": ref.artifact_id},
                               float(i + 1))  # fmt: skip
            store.record_step(StepRunRecord(run.run_id, f"s{i}", "completed"), [ref], [], entry)
            entries[entry.step] = (entry, {"out": ref})  # the newest per step wins
        steps = [f"s{i}" for i in range(10)]
        assert store.latest_cache_outputs("p", steps) == entries
        assert store.latest_cache_outputs("p", []) == {}
        store._json_each = False  # without SQLite's JSON functions: no hint, lookups per step
        assert store.latest_cache_outputs("p", steps) == {}
    finally:
        store.close()

"""``flowy.tracking.housekeeping.collect`` on a real SQLite store and a real artifact folder.

The rules that the command-line tests do not reach easily: files that are not
Flowy's are left alone; an unreferenced file of a run one of whose recorded
artifacts is missing is left alone (the store may have moved); a run that
another command deleted between retention's choice and its deletion is
skipped, not an error.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowy.artifacts.resolution import MaterializerRegistry
from flowy.artifacts.sidecars import sidecar_uri
from flowy.artifacts.store_io import write_artifact
from flowy.kernel.plugins import create_plugin_manager
from flowy.kernel.records import ComponentSpec, RunRecord, StepRef, StepRunRecord, StepTask
from flowy.tracking.housekeeping import UNREFERENCED, collect
from flowy.tracking.retention import Retention
from flowy_store_sqlite.local_store import LocalArtifactStore
from flowy_store_sqlite.sqlite import SQLiteMetadataStore


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[SQLiteMetadataStore, LocalArtifactStore]]:
    meta = SQLiteMetadataStore(str(tmp_path / "meta.db"))
    yield meta, LocalArtifactStore(str(tmp_path / "artifacts"))
    meta.close()


def write(store: LocalArtifactStore, run_id: str, name: str) -> object:
    task = StepTask(
        run_id, "p", "s", StepRef("m", "s"), "c", {}, {}, [name],
        ComponentSpec("artifact_store", "local", {}),
    )  # fmt: skip
    registry = MaterializerRegistry(create_plugin_manager(entrypoints=False).registry)
    return write_artifact(store, f"{run_id}/s/{name}", name, {"n": name}, registry, origin=task)


def record(meta: SQLiteMetadataStore, run_id: str, started: float, refs: list) -> None:
    meta.create_run(RunRecord(run_id, "p", "completed", started_at=started))
    import attrs

    refs = [attrs.evolve(r, artifact_id=f"{run_id}-{r.name}") for r in refs]
    step = StepRunRecord(run_id, "s", "completed", started, started + 1)
    step.outputs = {r.name: r.artifact_id for r in refs}
    meta.record_step(step, refs)


def test_foreign_files_and_runs_with_missing_files_are_left_alone(stores, tmp_path) -> None:
    meta, store = stores
    kept = write(store, "run1", "a")
    stray = write(store, "run1", "b")  # written, never recorded: garbage
    record(meta, "run1", 100.0, [kept])
    moved = write(store, "run2", "a")
    extra = write(store, "run2", "b")
    record(meta, "run2", 200.0, [moved])
    Path(moved.uri).unlink()  # a recorded file is gone: run2's store may have moved
    foreign = Path(store.root) / "notes.txt"
    foreign.write_text("mine, not Flowy's")

    report = collect(meta, store, Retention())
    assert [(f.uri, f.kind) for f in report.files] == [(stray.uri, UNREFERENCED)]
    assert not Path(stray.uri).exists() and not Path(sidecar_uri(stray.uri)).exists()
    assert sorted(report.left_alone) == sorted([str(foreign), extra.uri])
    assert foreign.exists() and Path(extra.uri).exists() and Path(kept.uri).exists()


def test_a_run_deleted_meanwhile_is_skipped_by_retention(stores) -> None:
    meta, store = stores
    for i, started in enumerate((100.0, 200.0, 300.0)):
        record(meta, f"run{i}", started, [write(store, f"run{i}", "a")])

    class StaleView(SQLiteMetadataStore):
        """Lists a run that another command has deleted since (as a concurrent gc would)."""

        def iter_runs(self) -> Iterator[RunRecord]:
            yield from super().iter_runs()
            yield RunRecord("gone", "p", "completed", started_at=1.0)

    stale = StaleView(meta.url)
    try:
        report = collect(stale, store, Retention(keep_last_runs=1))
    finally:
        stale.close()
    outcome = {r.run_id: r.kept_because for r in report.expired}
    assert outcome == {"gone": "deleted meanwhile by another command", "run0": None, "run1": None}
    assert [r.run_id for r in meta.iter_runs()] == ["run2"]


def test_retention_waits_while_a_run_of_the_pipeline_runs(stores) -> None:
    meta, store = stores
    for i, started in enumerate((100.0, 200.0, 300.0)):
        record(meta, f"run{i}", started, [write(store, f"run{i}", "a")])
    # A live run of the same pipeline (this process, on this host: not crashed).
    alive = RunRecord(
        "live", "p", "running", started_at=time.time(), pid=os.getpid(), host=socket.gethostname()
    )
    meta.create_run(alive)
    report = collect(meta, store, Retention(keep_last_runs=1))
    assert {r.run_id for r in report.expired if r.kept_because} == {"run0", "run1", "run2"}
    assert len(list(meta.iter_runs())) == 4
    meta.finish_run("live", "completed", time.time())
    collect(meta, store, Retention(keep_last_runs=1))
    assert [r.run_id for r in meta.iter_runs()] == ["live"]

"""The queries both stores share: written once (queries.py), compiled once for SQLite.

The stdlib store runs ``sqlite_queries.py``, generated from the SQLAlchemy
constructs; these tests keep the file current, check that both stores give
the same answers through their two paths on one database, and that the
stdlib path never imports SQLAlchemy.
"""

from __future__ import annotations

import itertools
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from flowy.kernel.records import (
    ArtifactRef,
    CacheEntry,
    MetricRecord,
    RunRecord,
    StepRunRecord,
)
from flowy_store_sqlite import queries, sqlite_queries
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.shared_methods import CHUNK
from flowy_store_sqlite.sqlite import SQLiteMetadataStore

GENERATOR = Path(__file__).resolve().parents[2] / "scripts" / "gen_sqlite_queries.py"


def test_generated_sqlite_queries_are_current() -> None:
    """sqlite_queries.py is what queries.py compiles to: regenerate after changing a query."""
    path = Path(sqlite_queries.__file__)
    assert path.read_text("utf-8") == queries.sqlite_source(), (
        "sqlite_queries.py is stale: run python scripts/gen_sqlite_queries.py"
    )


@pytest.mark.skipif(not GENERATOR.exists(), reason="the repository's scripts/ is not here")
def test_the_script_checks_both_generated_files(monkeypatch: pytest.MonkeyPatch) -> None:
    main = runpy.run_path(str(GENERATOR))["main"]
    assert main(["--check"]) == 0
    monkeypatch.setattr(queries, "sqlite_source", lambda: "# stale\n")
    assert main(["--check"]) == 1


def test_sqlite_text_has_parameters_and_constants_written_in() -> None:
    """Named parameters for what callers pass; a construct's constants become literals."""
    crash = sqlite_queries.CRASH_RUN
    assert ":where_run_id" in crash and "'crashed'" in crash and "'running'" in crash
    assert sqlite_queries.IDS in sqlite_queries.METRICS_OF_RUNS
    assert set(sqlite_queries.RUNS) == set(queries.RUNS)
    assert ":limit" in sqlite_queries.RUNS[("limit", "pipeline")]


def _fill(store: SQLiteMetadataStore) -> list[str]:
    """Runs in two experiments and three pipelines, with steps, artifacts, metrics, a cache."""
    run_ids = []
    for i, (pipeline, experiment, status) in enumerate(
        itertools.product(("p1", "p2", "p3"), (None, "exp"), ("completed", "failed"))
    ):
        run = RunRecord(f"{i:032d}", pipeline, status, {"i": i}, started_at=float(i % 5),
                        experiment=experiment)  # fmt: skip
        store.create_run(run)
        ref = ArtifactRef("out", f"/a/{i}", "c" * 64, 1, "json", "1", "builtins.int", {},
                          f"a{i:031d}")  # fmt: skip
        entry = CacheEntry(f"k{i}", pipeline, "fit", run.run_id, {}, {"out": ref.artifact_id})
        step = StepRunRecord(run.run_id, "fit", "completed", outputs={"out": ref.artifact_id})
        store.record_step(step, [ref], [MetricRecord("loss", 1.0 / (i + 1), 0)], entry)
        store.record_steps(
            [
                StepRunRecord(run.run_id, "eval", "cached", cache_key=entry.key),
                StepRunRecord(run.run_id, "report", "skipped"),
            ]
        )
        run_ids.append(run.run_id)
    store.finish_run(run_ids[0], "completed", 9.0)
    return run_ids


def test_both_stores_answer_alike_on_one_database(tmp_path: Path) -> None:
    """Every shared read, through the compiled text and through SQLAlchemy, on one file."""
    store = SQLiteMetadataStore(str(tmp_path / "flowy.db"))
    try:
        run_ids = _fill(store)
        full: SQLMetadataStore = store.full  # the SQLAlchemy store on the same connection
        values = {"experiment": "exp", "limit": 4, "pipeline": "p2", "status": "failed"}
        for n in range(len(values) + 1):
            for names in itertools.combinations(sorted(values), n):
                given: dict[str, Any] = {name: values[name] for name in names}
                # Both run the same SharedMethods._runs; each store its own RUNS variant.
                assert store._runs(**given) == full._runs(**given), names
        assert store.list_runs(pipeline="p1") == full.list_runs(pipeline="p1")
        assert len(store.experiment_runs("exp", status="completed")) == 3
        assert store.list_experiments() == full.list_experiments()
        assert {row["name"] for row in store.list_experiments()} == {"exp", "p1", "p2", "p3"}
        many = [*run_ids, *(f"x{i:031d}" for i in range(CHUNK + 10))]  # two IN (...) lists
        assert store.metrics_of_runs(many) == full.metrics_of_runs(many)
        assert store.step_runs_of_runs(many) == full.step_runs_of_runs(many)
        artifacts = [f"a{i:031d}" for i in range(len(run_ids))] + many
        assert store.artifact_producers(artifacts) == full.artifact_producers(artifacts)
        assert len(store.artifact_producers(artifacts)) == len(run_ids)
        for run_id in run_ids[:3]:
            assert store.get_run(run_id) == full.get_run(run_id)
            assert store.get_step_runs(run_id) == full.get_step_runs(run_id)
            assert store.get_metrics(run_id) == full.get_metrics(run_id)
        assert [s.step for s in store.get_step_runs(run_ids[1])] == ["fit", "eval", "report"]
        assert store.lookup_cache("k1") == full.lookup_cache("k1") is not None
        assert full.cache_stats()["hits"] == len(run_ids)  # each cached step counted its hit
    finally:
        store.close()


_STDLIB_PATH = """
import sys
from flowy.kernel.records import ArtifactRef, CacheEntry, MetricRecord, RunRecord, StepRunRecord
from flowy_store_sqlite.sqlite import SQLiteMetadataStore

store = SQLiteMetadataStore(sys.argv[1])
store.mark_crashed_runs()
run = RunRecord("r" * 32, "p", "running", {"a": 1}, pid=1, host="elsewhere")
store.create_run(run)
ref = ArtifactRef("out", "/a", "c" * 64, 1, "json", "1", "builtins.int", {}, "a" * 32)
entry = CacheEntry("k", "p", "fit", run.run_id, {}, {"out": ref.artifact_id})
metrics = [MetricRecord("m", 1.0)]
store.record_step(StepRunRecord(run.run_id, "fit", "completed"), [ref], metrics, entry)
store.record_steps([StepRunRecord(run.run_id, "eval", "cached", cache_key="k")])
assert store.lookup_cache_outputs("k") is not None and store.latest_cache_outputs("p", ["fit"])
store.record_cache_hit("k")
store.finish_run(run.run_id, "completed", 2.0)
assert store.get_run(run.run_id).status == "completed" and store.list_runs(pipeline="p")
assert store.list_experiments() and store.experiment_runs("p", limit=1)
assert store.metrics_of_runs([run.run_id]) and store.step_runs_of_runs([run.run_id])
assert store.artifact_producers([ref.artifact_id]) and store.get_metrics(run.run_id)
assert store.get_artifact(ref.artifact_id) == ref and store.lookup_cache("k")
store.close()
print(" ".join(m for m in ("alembic", "sqlalchemy") if m in sys.modules))
"""


def test_the_stdlib_store_never_imports_sqlalchemy(tmp_path: Path) -> None:
    """What ``flowy run`` and ``flowy runs list`` do on the default stack, in a fresh process."""
    url = f"sqlite:///{tmp_path / 'flowy.db'}"
    out = subprocess.run(
        [sys.executable, "-c", _STDLIB_PATH, url], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == []


def test_every_record_attribute_is_a_column_of_its_table() -> None:
    """A RowMap maps each attribute to the same-named column: a new field needs a column."""
    from flowy_store_sqlite import _rows, model_registry, schema

    for mapping in (
        _rows.RUNS,
        _rows.STEP_RUNS,
        _rows.ARTIFACTS,
        _rows.CACHE_ENTRIES,
        model_registry._VERSIONS,
    ):
        columns = set(schema.metadata.tables[mapping.table].c.keys())
        assert {*mapping.plain, *mapping.json} <= columns, mapping.table
        assert set(mapping.json) <= {field.name for field in attrs.fields(mapping.cls)}

"""Lineage, artifact search and the model registry on the SQL store, and schema 0001 -> 0002."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from flowy.kernel.catalog import Catalog
from flowy.kernel.errors import ArtifactNotFoundError, FlowyError, ModelNotFoundError
from flowy.kernel.records import StepRunRecord
from flowy.testing.metadata_store import make_artifact, make_run
from flowy_store_sqlite import revisions
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.model_registry import production_stack


def asset(kind: str, name: str | None = None, tags: tuple[str, ...] = ()) -> dict:
    return {"flowy_asset": {"type": kind, "name": name, "tags": list(tags), "fields": {}}}


def record(store, run, step, inputs, outputs, *, kinds=None, tags=None):
    """Record a step consuming ``inputs`` (name -> id) and producing new ``outputs`` (names)."""
    refs = [
        make_artifact(
            name,
            metadata=asset((kinds or {}).get(name, "artifact"), name, (tags or {}).get(name, ())),
        )
        for name in outputs
    ]
    store.record_step(
        StepRunRecord(
            run.run_id,
            step,
            "completed",
            1.0,
            2.0,
            inputs=inputs,
            outputs={r.name: r.artifact_id for r in refs},
        ),
        refs,
    )
    return {r.name: r.artifact_id for r in refs}


@pytest.fixture
def chain(sqlite_store: SQLMetadataStore):
    """raw -> clean -> (train, test) -> model; model + test -> score."""
    run = make_run(pipeline="train", started_at=time.time())
    sqlite_store.create_run(run)
    a = record(
        sqlite_store, run, "load", {}, ["raw"], kinds={"raw": "dataset"}, tags={"raw": ("src",)}
    )
    b = record(sqlite_store, run, "clean", {"raw": a["raw"]}, ["clean"], kinds={"clean": "dataset"})
    c = record(sqlite_store, run, "split", {"clean": b["clean"]}, ["train", "test"])
    d = record(sqlite_store, run, "fit", {"train": c["train"]}, ["model"], kinds={"model": "model"})
    e = record(sqlite_store, run, "score", {"model": d["model"], "test": c["test"]}, ["score"])
    return sqlite_store, run, {**a, **b, **c, **d, **e}


def test_store_is_a_catalog(sqlite_store: SQLMetadataStore) -> None:
    assert isinstance(sqlite_store, Catalog)


def test_lineage_both_ways(chain) -> None:
    store, _run, ids = chain
    up = store.lineage(ids["score"], downstream=False)
    assert set(up.upstream) == {ids[n] for n in ("model", "test", "train", "clean", "raw")}
    assert up.upstream[ids["model"]] == 1 and up.upstream[ids["raw"]] == 3  # via test
    assert up.downstream == {}
    assert {n.step for n in up.steps} == {"load", "clean", "split", "fit", "score"}
    down = store.lineage(ids["clean"], upstream=False)
    assert set(down.downstream) == {ids[n] for n in ("train", "test", "model", "score")}
    assert down.downstream[ids["score"]] == 2  # clean -> test -> score is the shortest path
    both = store.lineage(ids["train"][:8])  # prefixes work
    assert set(both.upstream) == {ids["clean"], ids["raw"]}
    assert set(both.downstream) == {ids["model"], ids["score"]}
    assert both.artifacts[ids["raw"]].tags == ["src"]


def test_uses_run_artifacts_and_unknown_ids(chain) -> None:
    store, run, ids = chain
    uses = store.artifact_uses(ids["test"])
    assert [(u.direction, u.step) for u in uses] == [("produced", "split"), ("consumed", "score")]
    listed = store.run_artifacts(run.run_id)
    assert {i.artifact_id for _, i in listed} == set(ids.values())
    with pytest.raises(ArtifactNotFoundError):
        store.lineage("nope-nope")


def test_search_filters(chain) -> None:
    store, run, ids = chain
    assert {i.artifact_id for i in store.search_artifacts(asset_type="dataset")} == {
        ids["raw"],
        ids["clean"],
    }
    assert [i.artifact_id for i in store.search_artifacts(tag="src")] == [ids["raw"]]
    assert [i.artifact_id for i in store.search_artifacts(name="model")] == [ids["model"]]
    assert len(store.search_artifacts(pipeline="train")) == 6
    assert store.search_artifacts(pipeline="other") == []
    assert store.search_artifacts(since=time.time() + 60) == []
    assert len(store.search_artifacts(until=time.time() + 60, limit=2)) == 2
    assert len(store.search_artifacts(run_id=run.run_id)) == 6


def _model(store, name="m"):
    run = make_run(started_at=time.time())
    store.create_run(run)
    refs = [make_artifact("model", metadata=asset("model")) for _ in range(4)]
    store.record_step(StepRunRecord(run.run_id, "fit", "completed", 1.0, 2.0), refs)
    return [store.register_model_version(name, r.artifact_id, user="ann") for r in refs]


def test_versions_are_numbered_and_linked(sqlite_store: SQLMetadataStore) -> None:
    versions = _model(sqlite_store)
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert all(v.stage == "none" and v.created_by == "ann" for v in versions)
    assert sqlite_store.get_model_version("m").version == 4
    assert [m.name for m in sqlite_store.list_models()] == ["m"]
    with pytest.raises(ModelNotFoundError, match="Registered: m"):
        sqlite_store.model_versions("other")
    with pytest.raises(ModelNotFoundError, match="version 9"):
        sqlite_store.get_model_version("m", 9)
    with pytest.raises(ModelNotFoundError) as empty_stage:
        sqlite_store.get_model_version("m", stage="production")
    assert "has no version in stage 'production'" in str(empty_stage.value)
    assert "flowy model promote m VERSION --to production" in str(empty_stage.value)


def test_promote_archives_previous_and_rollback_is_a_stack(sqlite_store: SQLMetadataStore) -> None:
    _model(sqlite_store)
    promote = sqlite_store.set_model_stage
    promote("m", 1, "production", user="ann")
    changes = promote("m", 2, "production", user="bob")
    assert [(c.version, c.action, c.to_stage) for c in changes] == [
        (1, "displace", "archived"),
        (2, "promote", "production"),
    ]
    promote("m", 3, "production", user="bob")
    promote("m", 4, "staging", user="bob")
    assert sqlite_store.list_models()[0].stages == {"production": 3, "staging": 4}
    assert sqlite_store.rollback_model("m", user="cy")[1].version == 2
    assert sqlite_store.get_model_version("m", stage="production").version == 2
    assert sqlite_store.rollback_model("m", user="cy")[1].version == 1
    with pytest.raises(FlowyError, match="nothing to roll back to"):
        sqlite_store.rollback_model("m", user="cy")
    history = sqlite_store.model_history("m")
    assert history[-1].user == "cy" and history[0].action == "register"
    assert promote("m", 1, "production", user="x") == []  # already there: no change


def test_rollback_without_production(sqlite_store: SQLMetadataStore) -> None:
    _model(sqlite_store)
    with pytest.raises(FlowyError, match="is in production"):
        sqlite_store.rollback_model("m", user="x")


def test_production_stack_replay() -> None:
    from flowy.kernel.catalog import StageChange

    def ch(v, action, frm, to):
        return StageChange("m", v, action, frm, to, "u", 0.0)

    history = [
        ch(1, "promote", "none", "production"),
        ch(1, "displace", "production", "archived"),
        ch(2, "promote", "none", "production"),
        ch(2, "promote", "production", "archived"),  # demoted by hand
        ch(3, "promote", "none", "production"),
    ]
    assert production_stack(history) == [1, 3]


def test_schema_0001_database_upgrades_in_place(tmp_path: Path) -> None:
    """A store created by the previous release keeps its data and gains the new tables."""
    from alembic import command
    from alembic.config import Config
    from flowy_store_sqlite.database import MIGRATIONS_DIR

    db = tmp_path / "old.db"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{db}")
    command.upgrade(config, "0001_initial")
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO runs VALUES "
            "('r1','p','completed','{}','{}',1.0,2.0,'{}','{}',NULL,NULL,NULL)"
        )
        conn.execute(
            "INSERT INTO artifacts VALUES ('a1','r1','s','out','/x','builtins.int','json','1',"
            "'ab',1,'{}',1.5)"
        )
        conn.execute(
            "INSERT INTO lineage (artifact_id, run_id, step, direction, name) "
            "VALUES ('a1','r1','s','produced','out')"
        )
    store = SQLMetadataStore(str(db))
    try:
        info = store.artifact_info("a1")
        assert info.asset_type == "artifact" and info.pipeline == "p"
        assert store.artifact_uses("a1")[0].direction == "produced"
        assert store.register_model_version("m", "a1", user="u").version == 1
    finally:
        store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            revisions.HEAD_REVISION,
        )
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "ix_lineage_artifact_id_direction_run_id_step" in indexes
    assert "ix_lineage_artifact_id" not in indexes


def test_lineage_walk_uses_indexes(chain) -> None:
    """The recursive walk probes the covering indexes; no step scans the lineage table."""
    store, _run, ids = chain
    from flowy_store_sqlite.lineage import _walk
    from sqlalchemy.dialects import sqlite

    captured: list[str] = []
    store = getattr(store, "full", store)  # the stdlib-driver store walks on its SQLAlchemy side
    with store._read() as conn:
        real = conn.execute

        def spy(stmt, *a, **k):
            captured.append(
                str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
            )
            return real(stmt, *a, **k)

        conn.execute = spy  # type: ignore[method-assign]
        try:
            _walk(conn, ids["score"], "produced", "consumed")
        finally:
            del conn.execute
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + captured[0]).all()
    details = " | ".join(str(row[-1]) for row in plan)
    assert "SCAN hop_in" not in details and "SCAN hop_out" not in details, details
    assert "ix_lineage_" in details, details


def test_rows_constants_match_flowy_assets() -> None:
    from flowy.tracking import assets
    from flowy_store_sqlite import _rows

    assert (_rows.ASSET_KEY, _rows.PLAIN) == (assets.ASSET_KEY, assets.PLAIN)

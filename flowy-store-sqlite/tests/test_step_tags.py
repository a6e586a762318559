"""Step tags in the store (revision 0007_step_tags): kept as a JSON list, old rows read as [].

The run page groups its DAG by them, so a database recorded before the revision must
upgrade in place and read its steps back untagged, not fail; and a cell that is not a
JSON list is reported with the statement that repairs it, as for the JSON objects.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flowy.testing.records_factory import make_run, make_step
from flowy_store_sqlite import revisions
from flowy_store_sqlite.database import MIGRATIONS_DIR
from flowy_store_sqlite.faults import MalformedRowError
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.sqlite import SQLiteMetadataStore

BOTH = pytest.mark.parametrize(
    "store_class", [SQLMetadataStore, SQLiteMetadataStore], ids=["sqlalchemy", "sqlite3"]
)


def _downgrade(url: str, revision: str) -> None:
    """Take the database at ``url`` back to ``revision`` with Alembic, as an older Flowy had it."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    command.downgrade(config, revision)


def _columns_and_version(db_path: Path) -> tuple[list[str], str]:
    with sqlite3.connect(db_path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(step_runs)")]
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return columns, version


@BOTH
def test_rows_from_before_the_revision_read_as_untagged(
    db_path: Path, store_class: type[Any]
) -> None:
    url = f"sqlite:///{db_path}"
    store = store_class(url)
    run = make_run()
    store.create_run(run)
    store.record_step(make_step(run, "fit", tags=["train"]))
    store.close()
    _downgrade(url, "0006_step_output")
    columns, version = _columns_and_version(db_path)
    assert "tags" not in columns and version == "0006_step_output"

    store = store_class(url)  # upgrades to head
    try:
        columns, version = _columns_and_version(db_path)
        assert "tags" in columns and version == revisions.HEAD_REVISION
        assert [s.tags for s in store.get_step_runs(run.run_id)] == [[]]
        store.record_step(make_step(run, "eval", tags=["eval", "report"]))
        got = {s.step: s.tags for s in store.get_step_runs(run.run_id)}
        assert got == {"fit": [], "eval": ["eval", "report"]}
    finally:
        store.close()


@pytest.mark.parametrize("cell", ['{"a": 1}', "not json"])
def test_a_tags_cell_that_is_not_a_list_names_its_repair(db_path: Path, cell: str) -> None:
    url = f"sqlite:///{db_path}"
    store: Any = SQLiteMetadataStore(url)  # type: ignore[abstract]  # forwards the rest
    run = make_run()
    store.create_run(run)
    store.record_step(make_step(run, "fit", tags=["train"]))
    store.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE step_runs SET tags = ?", (cell,))
    classes: tuple[type[Any], ...] = (SQLMetadataStore, SQLiteMetadataStore)
    for store_class in classes:
        store = store_class(url)
        try:
            with pytest.raises(MalformedRowError) as info:
                store.get_step_runs(run.run_id)
            assert "tags" in str(info.value) and "SET tags = '[]'" in str(info.value)
        finally:
            store.close()

"""Schema versioning: Alembic owns the schema, but opening never needs Alembic."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flowy.errors import ConfigError
from flowy_store_sqlite import schema
from flowy_store_sqlite.database import MIGRATIONS_DIR
from flowy_store_sqlite.metadata import SQLMetadataStore
from sqlalchemy import create_engine, inspect


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


def describe(url: str) -> dict[str, Any]:
    """Everything about the tables that matters: columns, keys, indexes, version."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            out: dict[str, Any] = {}
            for table in sorted(insp.get_table_names()):
                out[table] = {
                    "columns": [
                        (c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)
                    ],
                    "pk": insp.get_pk_constraint(table),
                    "fks": sorted(
                        (tuple(f["constrained_columns"]), f["referred_table"], f["name"])
                        for f in insp.get_foreign_keys(table)
                    ),
                    "indexes": sorted(
                        (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                        for i in insp.get_indexes(table)
                    ),
                }
            out["version"] = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
            return out
    finally:
        engine.dispose()


def test_head_revision_matches_migrations() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    assert scripts.get_current_head() == schema.HEAD_REVISION
    history = [rev.revision for rev in scripts.walk_revisions()][::-1]
    assert tuple(history) == schema.KNOWN_REVISIONS


def test_alembic_upgrade_from_empty_equals_fresh_create(tmp_path: Path) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    migrated = f"sqlite:///{tmp_path / 'migrated.db'}"
    command.upgrade(alembic_config(migrated), "head")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    SQLMetadataStore(fresh).close()

    assert describe(migrated) == describe(fresh)
    assert describe(fresh)["version"] == [(schema.HEAD_REVISION,)]
    engine = create_engine(migrated)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []
    engine.dispose()


def test_downgrade_removes_everything(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'm.db'}"
    command.upgrade(alembic_config(url), "head")
    command.downgrade(alembic_config(url), "base")
    assert set(describe(url)) == {"alembic_version", "version"}


_PROBE = """
import sys
from flowy_store_sqlite.metadata import SQLMetadataStore
store = SQLMetadataStore(sys.argv[1])
store.list_runs()
store.close()
print("alembic" in sys.modules)
"""


def _imports_alembic(url: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, url], capture_output=True, text=True, check=True
    ).stdout
    return out.strip() == "True"


def test_opening_does_not_import_alembic(db_path: Path) -> None:
    url = f"sqlite:///{db_path}"
    assert not _imports_alembic(url), "creating a new database took the Alembic path"
    assert not _imports_alembic(url), "opening an up-to-date database imported Alembic"


def test_database_at_base_is_upgraded_with_alembic(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as conn:  # Alembic's table, but no revision applied yet
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    url = f"sqlite:///{db_path}"
    assert _imports_alembic(url)
    assert describe(url)["version"] == [(schema.HEAD_REVISION,)]
    assert "cache_entries" in describe(url)


def test_newer_revision_is_refused(db_path: Path) -> None:
    SQLMetadataStore(str(db_path)).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    with pytest.raises(ConfigError, match="pip install -U flowy-store-sqlite") as info:
        SQLMetadataStore(str(db_path))
    assert "0099_from_the_future" in str(info.value)


def test_untracked_tables_are_refused(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE runs (x INTEGER)")
    with pytest.raises(ConfigError, match="no Alembic version"):
        SQLMetadataStore(str(db_path))


def _pragma(store: SQLMetadataStore, name: str) -> Any:
    with store._read() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_pragmas(db_path: Path) -> None:
    store = SQLMetadataStore(f"sqlite:///{db_path}", busy_timeout=12.5)
    try:
        assert _pragma(store, "journal_mode") == "wal"
        assert _pragma(store, "synchronous") == 1  # NORMAL
        assert _pragma(store, "foreign_keys") == 1
        assert _pragma(store, "busy_timeout") == 12500
        assert _pragma(store, "wal_autocheckpoint") == 4000
    finally:
        store.close()
    with sqlite3.connect(db_path) as conn:  # WAL is persistent: other readers see it too
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store = SQLMetadataStore(f"sqlite:///{db_path}", fsync=True)
    try:
        assert _pragma(store, "synchronous") == 2  # FULL
    finally:
        store.close()


def test_parent_folder_created_and_plain_path_accepted(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c.db"
    store = SQLMetadataStore(str(target))
    store.close()
    assert target.is_file()
    assert store.url == f"sqlite:///{target}"

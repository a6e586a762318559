"""Schema versioning: Alembic owns the schema, but opening never needs Alembic."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.errors import ConfigError
from flowy_store_sqlite import revisions, schema
from flowy_store_sqlite.database import MIGRATIONS_DIR
from flowy_store_sqlite.metadata import SQLMetadataStore
from flowy_store_sqlite.sqlite import SQLiteMetadataStore
from sqlalchemy import create_engine, inspect

#: Both classes that open SQLite files: each must create, upgrade and refuse alike.
BOTH = pytest.mark.parametrize(
    "store_class", [SQLMetadataStore, SQLiteMetadataStore], ids=["sqlalchemy", "sqlite3"]
)


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
    assert scripts.get_current_head() == revisions.HEAD_REVISION
    history = [rev.revision for rev in scripts.walk_revisions()][::-1]
    assert tuple(history) == revisions.KNOWN_REVISIONS


def test_alembic_upgrade_from_empty_equals_fresh_create(tmp_path: Path) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    migrated = f"sqlite:///{tmp_path / 'migrated.db'}"
    command.upgrade(alembic_config(migrated), "head")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    SQLMetadataStore(fresh).close()

    assert describe(migrated) == describe(fresh)
    assert describe(fresh)["version"] == [(revisions.HEAD_REVISION,)]
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
import importlib, sys
module, name = sys.argv[2].rsplit(".", 1)
store = getattr(importlib.import_module(module), name)(sys.argv[1])
store.list_runs()
store.close()
print(" ".join(m for m in ("alembic", "sqlalchemy") if m in sys.modules))
"""


def _imported(url: str, store_class: type) -> set[str]:
    """Which of Alembic and SQLAlchemy opening ``url`` with ``store_class`` imported."""
    target = f"{store_class.__module__}.{store_class.__name__}"
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, url, target], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


@BOTH
def test_opening_does_not_import_alembic(db_path: Path, store_class: type) -> None:
    url = f"sqlite:///{db_path}"
    assert "alembic" not in _imported(url, store_class), "a new database took the Alembic path"
    assert "alembic" not in _imported(url, store_class), "an up-to-date database imported Alembic"


def test_sqlite_store_never_imports_sqlalchemy_to_create_or_open(db_path: Path) -> None:
    url = f"sqlite:///{db_path}"
    assert _imported(url, SQLiteMetadataStore) == set(), "creating a database imported them"
    assert _imported(url, SQLiteMetadataStore) == set(), "opening a database imported them"


@BOTH
def test_database_at_base_is_upgraded_with_alembic(db_path: Path, store_class: type) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as conn:  # Alembic's table, but no revision applied yet
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    url = f"sqlite:///{db_path}"
    assert "alembic" in _imported(url, store_class)
    assert describe(url)["version"] == [(revisions.HEAD_REVISION,)]
    assert "cache_entries" in describe(url)


@BOTH
def test_newer_revision_is_refused(db_path: Path, store_class: type) -> None:
    store_class(str(db_path)).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    with pytest.raises(ConfigError, match="pip install -U flowy-store-sqlite") as info:
        store_class(str(db_path))
    assert "0099_from_the_future" in str(info.value)


@BOTH
def test_untracked_tables_are_refused(db_path: Path, store_class: type) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE runs (x INTEGER)")
    with pytest.raises(ConfigError, match="no Alembic version"):
        store_class(str(db_path))


def test_generated_sqlite_ddl_is_current() -> None:
    """sqlite_schema.sql is what schema.py generates (its stamp included)."""
    path = Path(schema.__file__).with_name(schema.SQLITE_DDL_FILE)
    assert path.read_text("utf-8") == schema.sqlite_ddl(), (
        "sqlite_schema.sql is stale: python -c 'from flowy_store_sqlite import schema; "
        "schema.write_sqlite_ddl()'"
    )


def test_sqlite_store_creates_what_create_all_creates(tmp_path: Path) -> None:
    created = f"sqlite:///{tmp_path / 'ddl.db'}"
    SQLiteMetadataStore(created).close()
    reference = f"sqlite:///{tmp_path / 'create_all.db'}"
    SQLMetadataStore(reference).close()
    assert describe(created) == describe(reference)
    with (
        sqlite3.connect(tmp_path / "ddl.db") as a,
        sqlite3.connect(tmp_path / "create_all.db") as b,
    ):
        query = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
        a_rows, b_rows = (
            [(*r[:3], " ".join((r[3] or "").split()).replace(" ,", ",")) for r in c.execute(query)]
            for c in (a, b)
        )
        assert a_rows == b_rows


def test_sqlite_store_refuses_other_databases_naming_the_sql_store() -> None:
    with pytest.raises(ConfigError, match="store type 'sql'"):
        SQLiteMetadataStore("postgresql://user:secret@db.example/flowy")


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


@BOTH
def test_parent_folder_created_and_plain_path_accepted(tmp_path: Path, store_class: type) -> None:
    target = tmp_path / "a" / "b" / "c.db"
    store = store_class(str(target))
    store.close()
    assert target.is_file()
    assert store.url == f"sqlite:///{target}"


def test_sqlite_store_pragmas(db_path: Path) -> None:
    store = SQLiteMetadataStore(f"sqlite:///{db_path}", busy_timeout=12.5, fsync=True)
    try:
        pragmas = {
            name: store.db.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout",
                         "wal_autocheckpoint")
        }  # fmt: skip
    finally:
        store.close()
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1,
                       "busy_timeout": 12500, "wal_autocheckpoint": 4000}  # fmt: skip


def test_sqlite_store_serves_every_method_of_the_sqlalchemy_store(db_path: Path) -> None:
    """Each public method is run natively or forwarded; forwarded ones share the connection."""
    public = {n for n in dir(SQLMetadataStore) if not n.startswith("_") and callable(
        getattr(SQLMetadataStore, n))}  # fmt: skip
    missing = {n for n in public if not callable(getattr(SQLiteMetadataStore, n, None))}
    assert missing == set()
    store = SQLiteMetadataStore(str(db_path))
    try:
        from flowy.kernel.records import RunRecord

        store.create_run(RunRecord("f" * 32, "p", "running"))
        # Written on the stdlib connection, read on the SQLAlchemy side: one database.
        assert store.full.get_run("f" * 32).pipeline == "p"
        assert store.full.conn.connection.dbapi_connection is store.db
        assert store.cache_stats() == {"entries": 0, "hits": 0, "pipelines": {}}
    finally:
        store.close()

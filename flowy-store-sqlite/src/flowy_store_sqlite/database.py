"""Opening the metadata database: engine, SQLite pragmas, schema version.

Kept apart from the store so the store reads as queries only. Two rules shape
this module:

* **SQLite transactions are ours.** The stdlib driver silently commits before
  DDL and never begins before SELECT, so we switch it to autocommit and emit
  ``BEGIN`` ourselves (SQLAlchemy's documented recipe). Write transactions use
  ``BEGIN IMMEDIATE``: they take the write lock up front, so two processes
  waiting on each other fail over to ``busy_timeout`` instead of deadlocking.
* **Opening an up-to-date database must not import Alembic.** We read
  ``alembic_version`` with a plain SELECT and compare it with
  :data:`~flowy_store_sqlite.revisions.HEAD_REVISION`; Alembic is imported only
  to upgrade an older database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowy.kernel.errors import ConfigError
from sqlalchemy import Connection, Engine, create_engine, event, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from flowy_store_sqlite import connect, schema
from flowy_store_sqlite.revisions import HEAD_REVISION, KNOWN_REVISIONS

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: ``Connection.info`` key: when true, the next ``begin()`` takes the write lock.
WRITE_FLAG = "flowy_write"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_file(url: str) -> str | None:
    """The file a SQLite URL points to, or None for in-memory databases."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def create(
    url: str,
    *,
    fsync: bool,
    busy_timeout: float,
    connection: Callable[[], sqlite3.Connection] | None = None,
) -> Engine:
    """An engine for ``url``; on SQLite with WAL, busy timeout and foreign keys.

    ``connection`` (SQLite only) makes the engine use that one already open,
    configured connection instead of opening its own: the fast SQLite store
    shares its connection, and so its transactions, with this engine.
    """
    if not is_sqlite(url):
        return create_engine(url)
    if connection is not None:
        return _with_begin(create_engine(url, creator=connection, poolclass=StaticPool))
    path = _sqlite_file(url)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        connect.configure(dbapi_connection, fsync=fsync, busy_timeout=busy_timeout)

    return _with_begin(engine)


def _with_begin(engine: Engine) -> Engine:
    """Emit BEGIN (or BEGIN IMMEDIATE for writes) ourselves: see the module docstring."""

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight to the driver: exec_driver_sql would add ~15 us to every transaction.
        cursor = conn.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE" if conn.info.get(WRITE_FLAG) else "BEGIN")
        finally:
            cursor.close()

    return engine


def current_revision(conn: Connection) -> tuple[bool, str | None]:
    """(whether ``alembic_version`` exists, the revision it holds or None)."""
    if not inspect(conn).has_table("alembic_version"):
        return False, None
    rows = conn.execute(select(schema.alembic_version.c.version_num)).scalars().all()
    if len(rows) > 1:  # several heads: branches this version never made
        return True, ",".join(sorted(rows))
    return True, rows[0] if rows else None


def ensure_schema(conn: Connection, url: str) -> None:
    """Create, upgrade or refuse the database behind ``conn``.

    A read transaction decides first (the common case, an up-to-date
    database, never takes the write lock); a write transaction then
    re-checks, so two processes creating one database do it once.
    """
    with conn.begin():
        tracked, revision = current_revision(conn)
    if tracked and revision == HEAD_REVISION:
        return
    conn.info[WRITE_FLAG] = True
    try:
        with conn.begin():
            tracked, revision = current_revision(conn)
            if tracked and revision == HEAD_REVISION:
                return
            if not tracked:
                if inspect(conn).has_table("runs"):
                    raise ConfigError(
                        f"The database {safe_url(url)} has Flowy tables but no Alembic version: "
                        "it was not created by flowy-store-sqlite. Point the metadata store "
                        "at a new database, or stamp this one with `alembic stamp`."
                    )
                _create_fresh(conn)
            elif revision is None or revision in KNOWN_REVISIONS:
                _upgrade(conn)
            else:
                raise ConfigError(
                    f"The metadata database {safe_url(url)} is at schema revision {revision!r}, "
                    "newer than this flowy-store-sqlite knows (head "
                    f"{HEAD_REVISION!r}). It was written by a newer version: upgrade "
                    "with `pip install -U flowy-store-sqlite`."
                )
    finally:
        conn.info[WRITE_FLAG] = False


def _create_fresh(conn: Connection) -> None:
    """create_all + stamp head: what ``alembic upgrade head`` yields, without Alembic."""
    schema.metadata.create_all(conn)
    schema.version_metadata.create_all(conn)
    conn.execute(schema.alembic_version.insert(), {"version_num": HEAD_REVISION})


def _upgrade(conn: Connection) -> None:
    """Run the Alembic migrations up to head on ``conn`` (inside its transaction)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def safe_url(url: str) -> str:
    """The URL without its password or secret query parameters, for messages."""
    from flowy.kernel.redact import mask_text

    return mask_text(make_url(url).render_as_string(hide_password=True))

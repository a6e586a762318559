"""Alembic environment for the Flowy metadata schema.

The store runs migrations programmatically and hands its open connection in
``config.attributes["connection"]`` (inside its own transaction). From the
command line, ``alembic -x url=sqlite:///path.db upgrade head`` (or
``sqlalchemy.url`` in an ini file) works too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from flowy_store_sqlite.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("pass the database URL: alembic -x url=sqlite:///path.db upgrade head")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()

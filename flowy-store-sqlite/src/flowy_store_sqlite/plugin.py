"""Entry-point module of flowy-store-sqlite (group ``flowy``).

Imports only ``flowy`` (whose ``__init__`` is cheap) and registers dotted
paths: the store classes, and SQLAlchemy with them, are imported only when a
stack resolves them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy import hookimpl

if TYPE_CHECKING:
    from flowy.kernel.registry import Register

_SQLITE_TARGET = "flowy_store_sqlite.sqlite:SQLiteMetadataStore"
_SQL_TARGET = "flowy_store_sqlite.metadata:SQLMetadataStore"


@hookimpl
def flowy_register_metadata_stores(register: Register) -> None:
    register(
        "sqlite",
        _SQLITE_TARGET,
        description="Runs, lineage, metrics and cache in a SQLite file (WAL mode).",
    )
    register(
        "sql",
        _SQL_TARGET,
        description="The same store on any SQLAlchemy URL (PostgreSQL, MySQL, ...).",
    )


@hookimpl
def flowy_register_artifact_stores(register: Register) -> None:
    register(
        "local",
        "flowy_store_sqlite.local_store:LocalArtifactStore",
        description="Artifacts as files in a local folder, written atomically.",
    )

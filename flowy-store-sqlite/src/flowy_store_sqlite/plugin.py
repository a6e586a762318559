"""Entry-point module of flowy-store-sqlite (group ``flowy``).

Imports only pluggy (through ``flowy``'s own dependency) and the standard
library, and registers dotted paths: the store classes, and SQLAlchemy with
them, are imported only when a stack resolves them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from flowy.registry import Register

# Core does not re-export a marker yet; this is the same marker by project name.
hookimpl = pluggy.HookimplMarker("flowy")

_METADATA_TARGET = "flowy_store_sqlite.metadata:SQLMetadataStore"


@hookimpl
def flowy_register_metadata_stores(register: Register) -> None:
    register(
        "sqlite",
        _METADATA_TARGET,
        description="Runs, lineage, metrics and cache in a SQLite file (WAL mode).",
    )
    register(
        "sql",
        _METADATA_TARGET,
        description="The same store on any SQLAlchemy URL (PostgreSQL, MySQL, ...).",
    )


@hookimpl
def flowy_register_artifact_stores(register: Register) -> None:
    register(
        "local",
        "flowy_store_sqlite.local_store:LocalArtifactStore",
        description="Artifacts as files in a local folder, written atomically.",
    )

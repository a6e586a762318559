"""The schema's Alembic revisions, without SQLAlchemy (the stdlib store checks them too)."""

from __future__ import annotations

#: The Alembic revision the tables of :mod:`flowy_store_sqlite.schema` correspond to.
HEAD_REVISION = "0009_cache_limits"
#: Every revision this version knows, oldest first; a database at another is newer.
KNOWN_REVISIONS = (
    "0001_initial",
    "0002_assets_registry",
    "0003_metric_nan",
    "0004_run_changes",
    "0005_run_search",
    "0006_step_output",
    "0007_step_tags",
    "0008_operations",
    "0009_cache_limits",
)

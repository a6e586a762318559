"""Stack options of this distribution's components (pydantic models).

Imported only when options are validated and not found in the project's cache
(:mod:`flowy.stacks.options_cache`): the components name these models with
:class:`~flowy.kernel.component.LazyOptions`, so a ``flowy run`` whose stack is
unchanged imports no pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SQLMetadataStoreOptions(BaseModel):
    """Stack options of the ``sqlite`` / ``sql`` metadata store."""

    model_config = ConfigDict(extra="forbid")

    url: str
    """A SQLAlchemy URL, or a plain file path meaning a SQLite file."""
    fsync: bool = False
    """SQLite only: ``synchronous=FULL`` (survives power loss) instead of ``NORMAL``."""
    busy_timeout: float = 30.0
    """SQLite only: seconds to wait for another process's write lock."""


class LocalArtifactStoreOptions(BaseModel):
    """Stack options of the ``local`` artifact store."""

    model_config = ConfigDict(extra="forbid")

    path: str
    """The root folder; created when missing. Relative paths are taken from the cwd."""
    fsync: bool = False
    """fsync each artifact and its folder before it becomes visible (survives power loss)."""

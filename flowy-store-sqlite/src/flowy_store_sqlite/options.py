"""Stack options of the SQLite / SQL metadata stores (one pydantic model for both)."""

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

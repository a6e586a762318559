"""Safe materializers for Flowy (see :mod:`flowy_materializers.plugin`)."""

from __future__ import annotations

from typing import Any


def availability() -> dict[str, dict[str, Any]]:
    """Which materializers have their framework installed (imports none of them)."""
    from flowy_materializers._availability import availability as _availability

    return _availability()

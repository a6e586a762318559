"""``/api/v1/cache``: the step cache's size and hits (``flowy cache stats``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from flowy_ui.api import schemas
from flowy_ui.api.deps import ERROR_RESPONSES, Pool

router = APIRouter(tags=["cache"], responses=ERROR_RESPONSES)


@router.get("/cache", response_model=schemas.CacheStats)
def cache_stats(pool: Pool) -> dict[str, Any]:
    """Cache entries, total hits and entries per pipeline."""
    stats = pool.client().cache_stats()
    return {
        "entries": int(stats.get("entries", 0)),
        "hits": int(stats.get("hits", 0)),
        "pipelines": {str(k): int(v) for k, v in dict(stats.get("pipelines", {})).items()},
    }

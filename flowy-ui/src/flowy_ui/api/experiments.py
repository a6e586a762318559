"""``/api/v1/experiments``: every experiment with its run counts, most recent first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from flowy_ui.api import schemas
from flowy_ui.api.deps import ERROR_RESPONSES, Pool

router = APIRouter(prefix="/experiments", tags=["experiments"], responses=ERROR_RESPONSES)


@router.get("", response_model=schemas.ExperimentList)
def list_experiments(pool: Pool) -> dict[str, Any]:
    """Experiments (runs are filed under their pipeline's name unless one is named)."""
    from flowy.tracking import list_experiments as query

    rows = query(pool.client().store)
    return {
        "items": [
            {
                "name": r["name"],
                "runs": r["runs"],
                "last_run_at": r.get("last_started_at"),
                "first_run_at": r.get("first_started_at"),
                "completed": r.get("completed", 0),
                "failed": r.get("failed", 0),
                "pipelines": list(r.get("pipelines", [])),
            }
            for r in rows
        ]
    }

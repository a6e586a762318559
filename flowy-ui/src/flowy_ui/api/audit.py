"""``/api/v1/audit``: the audit log's latest lines (admin role)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from flowy_ui.api import schemas
from flowy_ui.api.deps import ERROR_RESPONSES, Audit
from flowy_ui.auth import require

router = APIRouter(tags=["audit"], responses=ERROR_RESPONSES)


@router.get("/audit", response_model=schemas.AuditList, dependencies=[require("admin")])
def audit_log(audit: Audit, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Every write, refused and failed ones too, newest first."""
    fields = set(schemas.AuditEntry.model_fields) - {"detail"}
    return {"items": [row for row in audit.tail(limit) if fields <= row.keys()]}

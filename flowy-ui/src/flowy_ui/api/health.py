"""``/healthz``: the server is up (no token needed, nothing about the store shown)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from flowy_ui.api import schemas

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=schemas.Health)
async def healthz(request: Request) -> dict[str, Any]:
    from flowy import __version__

    return {
        "status": "ok",
        "version": __version__,
        "read_only": request.app.state.settings.read_only,
        "auth": request.app.state.auth.required(),
    }

"""Dependencies every router uses: the server's client pool, audit log and settings.

They are resolved on the event loop (``async``); an endpoint takes its thread's
client from the pool inside its own body (see :mod:`flowy_ui.clients`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from flowy_ui.audit import AuditLog
from flowy_ui.clients import ClientPool
from flowy_ui.errors import ERROR_RESPONSES
from flowy_ui.settings import Settings


async def _pool(request: Request) -> ClientPool:
    pool: ClientPool = request.app.state.clients
    return pool


async def _audit(request: Request) -> AuditLog:
    log: AuditLog = request.app.state.audit
    return log


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Pool = Annotated[ClientPool, Depends(_pool)]
Audit = Annotated[AuditLog, Depends(_audit)]
Config = Annotated[Settings, Depends(_settings)]
__all__ = ["ERROR_RESPONSES", "Audit", "Config", "Pool"]

"""The server: :func:`create_app` builds a FastAPI application for one stack.

Nothing is global: the settings, the plugin manager, the per-thread clients, the
authenticator and the audit log hang off ``app.state``, so a test builds as many
servers as it likes. The API lives under ``/api/v1``; its OpenAPI schema is at
``/api/v1/openapi.json`` (no Swagger page: it would load scripts from a CDN).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI

from flowy_ui import errors, frontend, security
from flowy_ui.api import (
    artifacts,
    audit,
    cache,
    compare,
    experiments,
    health,
    live,
    metrics,
    models,
    runs,
    stacks,
)
from flowy_ui.audit import AuditLog
from flowy_ui.auth import Authenticator
from flowy_ui.clients import ClientPool
from flowy_ui.live import LiveHub
from flowy_ui.settings import Settings

if TYPE_CHECKING:
    from flowy.kernel.plugins import FlowyPlugins

API = "/api/v1"
#: The largest request head (request line and headers) the server reads, for uvicorn's
#: ``h11_max_incomplete_event_size``. Its default, 16 KiB, cuts ``/compare?runs=...`` of a
#: few hundred runs off with a reset connection instead of an answer.
MAX_REQUEST_HEAD = 256 * 1024


def create_app(settings: Settings | None = None, plugins: FlowyPlugins | None = None) -> FastAPI:
    """A server for ``settings`` (defaults: loopback, the active stack of this project).

    ``plugins`` is the plugin manager the clients share (default: every installed
    plugin). The project and stack are checked here, so a wrong name fails before
    the server listens.
    """
    from flowy import __version__
    from flowy.kernel.config import require_project
    from flowy.tracking import Client

    settings = settings or Settings()
    if plugins is None:
        from flowy.kernel.plugins import create_plugin_manager

        plugins = create_plugin_manager()
    plugins.registry  # noqa: B018 - built once here, before threads share it
    project = settings.project.resolve() if settings.project else require_project()
    with Client(stack=settings.stack, project=project, plugins=plugins) as checked:
        checked.store  # noqa: B018 - a wrong stack or an unreadable store fails here
        stack = checked.stack_name
    pool = ClientPool(stack, project, plugins)
    hub = LiveHub(pool)  # the one watcher of the store's changes (see flowy_ui.live)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.start()
        try:
            yield
        finally:
            await hub.stop()
            pool.close()

    app = FastAPI(
        title="Flowy UI API",
        version=__version__,
        openapi_url=f"{API}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clients = pool
    app.state.live = hub
    app.state.auth = Authenticator(settings)
    app.state.audit = AuditLog(settings.audit_path)

    errors.install(app)
    security.install(app, settings, app.state.auth, app.state.audit)

    api = APIRouter(prefix=API)
    for module in (runs, artifacts, experiments, compare, models, stacks, cache, audit, live):
        api.include_router(module.router)
    app.include_router(health.router)
    app.include_router(metrics.router)  # /metrics, for Prometheus
    app.include_router(api)
    app.include_router(
        frontend.router(settings.static_dir) if settings.static_dir else frontend.router()
    )
    return app

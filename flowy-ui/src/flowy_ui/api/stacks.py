"""``/api/v1/stacks`` and ``/api/v1/plugins``: what the server's stack is made of and
which plugins are installed (options masked: no credential is ever shown)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from flowy.kernel.redact import mask

from flowy_ui.api import schemas
from flowy_ui.api.deps import ERROR_RESPONSES, Pool

router = APIRouter(tags=["stacks"], responses=ERROR_RESPONSES)


@router.get("/stacks", response_model=schemas.StackList)
def list_stacks(pool: Pool) -> dict[str, Any]:
    """Every stack (project, user, plugins); ``active`` is the one this server reads."""
    from flowy.stacks import list_stacks as query

    client = pool.client()
    active = client.stack_name
    items = [
        {
            "name": name,
            "scope": definition.scope,
            "description": definition.description,
            "active": name == active,
            "components": mask({k: dict(v) for k, v in definition.components.items()}),
            "error": definition.error,
        }
        for name, definition in query(pool.plugins, pool.project).items()
    ]
    return {"active": active, "items": items}


@router.get("/stacks/{name}/health", response_model=schemas.StackHealth)
def get_stack_health(pool: Pool, name: Annotated[str, Path(max_length=255)]) -> dict[str, Any]:
    """Each component resolved (plugin found, options valid); the served stack's stores probed.

    The stores of the stack this server reads answer one cheap read each, timed and
    bounded; another stack's stores are not contacted (see :mod:`flowy_ui.stack_health`).
    """
    from flowy_ui.stack_health import stack_health

    return stack_health(pool, name)


@router.get("/plugins", response_model=schemas.PluginList)
def list_plugins(pool: Pool) -> dict[str, Any]:
    """Installed plugins: version, status (loaded, failed, ...), hooks, what each provides."""
    infos = pool.plugins.infos
    return {"items": [mask(info.to_json()) for _, info in sorted(infos.items())]}

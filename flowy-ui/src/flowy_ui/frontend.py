"""The built frontend at ``/``, with the single-page-app fallback.

Files come from ``flowy_ui/static/`` (built by ``nox -s ui_build`` and shipped in
the wheel). A GET for a path that is not an API route serves the file of that
name when it exists inside ``static/``, else ``index.html``, so every page's URL
can be opened directly. A path is resolved and must stay inside ``static/``:
no ``..``, no symbolic link out. Until the frontend is built, ``/`` says so.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from flowy_ui.errors import error_response

STATIC = Path(__file__).resolve().parent / "static"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Flowy UI</title></head>
<body>
<h1>Flowy UI</h1>
<p>The API is running (<a href="/api/v1/runs">/api/v1/runs</a>,
schema at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>), but the web
frontend is not built in this installation.</p>
<p>Build it from a checkout with <code>nox -s ui_build</code> (it writes
<code>flowy-ui/src/flowy_ui/static/</code>), or install a released wheel, which ships it.</p>
</body></html>
"""


def _file(root: Path, path: str) -> Path | None:
    """``root/path`` if it is a regular file inside ``root`` (links resolved), else None."""
    if "\x00" in path:
        return None
    try:
        candidate = (root / path.lstrip("/")).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if candidate != root and root not in candidate.parents:
        return None
    return candidate if candidate.is_file() else None


def router(static: Path = STATIC) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/{path:path}")
    async def spa(request: Request, path: str) -> Response:
        if path == "api" or path.startswith("api/"):
            return error_response(404, f"No API route {request.url.path!r}.")
        root = static.resolve()
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT)
        found = _file(root, path) if path else None
        if found is not None:
            return FileResponse(found)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    return routes

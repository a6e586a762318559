"""``/api/v1/artifacts``: search, one artifact, its bytes, its lineage.

A download is found by artifact id only: the store's own record gives the URI,
and the artifact store opens it (the local store refuses any path that leaves
its root, symbolic links included). No path from the client ever reaches a
file system call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from flowy_ui import pagination, previews, views
from flowy_ui.api import schemas
from flowy_ui.api.deps import ERROR_RESPONSES, Pool

if TYPE_CHECKING:
    from flowy.kernel.catalog import ArtifactInfo

router = APIRouter(prefix="/artifacts", tags=["artifacts"], responses=ERROR_RESPONSES)

CHUNK = 1 << 16
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


Key = tuple[float, str]


def encode_cursor(info: ArtifactInfo) -> str:
    """The opaque cursor after ``info``: its ``(created_at, artifact_id)``."""
    return pagination.encode_pair(info.created_at, info.artifact.artifact_id)


def page_of(
    fetch: Callable[[int, float | None], list[ArtifactInfo]], limit: int, after: Key | None
) -> tuple[list[ArtifactInfo], bool]:
    """The ``limit`` artifacts after the cursor key, and whether more follow.

    ``fetch(n, until)`` gives the newest ``n`` created at or before ``until``, in the
    store's order (newest first, then id descending); the window grows while artifacts
    created in the same instant as the cursor fill it.
    """
    window = limit + 1
    until = after[0] if after else None
    while True:
        fetched = fetch(window, until)
        chosen = [
            i for i in fetched
            if after is None or (i.created_at, i.artifact.artifact_id) < after
        ]  # fmt: skip
        if len(chosen) > limit or len(fetched) < window:
            return chosen[:limit], len(chosen) > limit
        window *= 4


async def _previewer(request: Request) -> previews.Previewer:
    """The server's previewer (made on first use; resolved on the event loop, one thread)."""
    found: previews.Previewer | None = getattr(request.app.state, "previewer", None)
    if found is None:
        found = previews.Previewer(previews.Limits.of(request.app.state.settings))
        request.app.state.previewer = found
    return found


Previews = Annotated[previews.Previewer, Depends(_previewer)]


@router.get("", response_model=schemas.ArtifactPage)
def list_artifacts(
    pool: Pool,
    *,
    name: Annotated[
        str | None, Query(max_length=256, description="output or asset name (exact)")
    ] = None,
    type: Annotated[
        str | None, Query(max_length=64, description="asset type: dataset, model, ...")
    ] = None,
    run_id: Annotated[str | None, Query(max_length=128)] = None,
    run: Annotated[
        str | None, Query(max_length=128, description="run id or prefix (same as run_id)")
    ] = None,
    pipeline: Annotated[str | None, Query(max_length=256)] = None,
    tag: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor of the page before")
    ] = None,
) -> dict[str, Any]:
    """Artifacts newest first, by name, asset type, run (id or prefix), pipeline or tag,
    a page at a time (keyset paging on creation time and id)."""
    client = pool.client()
    after = pagination.decode_pair(cursor) if cursor else None
    filters = {
        "name": name or None,
        "asset_type": type or None,
        "run_id": run_id or run or None,
        "pipeline": pipeline or None,
        "tag": tag or None,
    }
    found, more = page_of(
        lambda window, until: client.search_artifacts(**filters, until=until, limit=window),
        limit,
        after,
    )
    return {
        "items": [views.artifact_item(info) for info in found],
        "next_cursor": encode_cursor(found[-1]) if more and found else None,
    }


@router.get("/{artifact_id}", response_model=schemas.ArtifactDetail)
def get_artifact(pool: Pool, artifact_id: str) -> dict[str, Any]:
    """One artifact (id or unique prefix) with its metadata; its URI is never shown."""
    return views.artifact_detail(pool.client().artifact_info(artifact_id))


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := stream.read(CHUNK):
            yield chunk
    finally:
        stream.close()


@router.get(
    "/{artifact_id}/download",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the bytes"}},
)
def download(pool: Pool, artifact_id: str) -> StreamingResponse:
    """The artifact's stored bytes, as written by its materializer."""
    client = pool.client()
    ref = client.artifact(artifact_id)
    stream = client.artifact_store.open_read(ref.uri)
    suffix = _UNSAFE.sub("", PurePosixPath(ref.uri).suffix)[:16]
    filename = (_UNSAFE.sub("_", ref.name).strip("._") or "artifact")[:100] + suffix
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Flowy-Checksum": ref.checksum,
        "Content-Length": str(ref.size),
        "Cache-Control": "no-store",
    }
    return StreamingResponse(
        _chunks(stream), media_type="application/octet-stream", headers=headers
    )


@router.get("/{artifact_id}/lineage", response_model=schemas.Lineage)
def lineage(
    pool: Pool,
    artifact_id: str,
    direction: Literal["up", "down", "both"] = "both",
    depth: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    """Ancestors and/or descendants up to ``depth`` steps away; edges go input -> output."""
    client = pool.client()
    root = client.artifact(artifact_id).artifact_id
    graph = client.lineage(root, upstream=direction != "down", downstream=direction != "up")
    distance = {**graph.upstream, **graph.downstream, root: 0}
    kept = {aid for aid, d in distance.items() if d <= depth and aid in graph.artifacts}
    kept.add(root)
    edges: list[tuple[str, str]] = []
    for node in graph.steps:
        for source in node.inputs.values():
            for target in node.outputs.values():
                pair = (source, target)
                if source in kept and target in kept and source != target and pair not in edges:
                    edges.append(pair)
    infos = {aid: graph.artifacts[aid] for aid in kept if aid in graph.artifacts}
    if root not in infos:
        infos[root] = client.artifact_info(root)
    nodes = sorted(infos.values(), key=lambda i: (distance.get(i.artifact_id, 0), i.artifact_id))
    return {"root": root, "nodes": [views.artifact_item(i) for i in nodes], "edges": edges}


@router.get("/{artifact_id}/preview", response_model=schemas.ArtifactPreview)
def preview(pool: Pool, previewer: Previews, artifact_id: str) -> dict[str, Any]:
    """What the artifact holds, summarised by kind (frame, array, image, json, text,
    model), within the server's size and time limits (kinds too_large, timed_out);
    pickled artifacts are never loaded (kind unsafe)."""
    client = pool.client()
    return previews.preview(client, client.artifact_info(artifact_id), previewer)


@router.get(
    "/{artifact_id}/preview/image",
    response_class=Response,
    responses={
        200: {
            "content": {t: {} for t in ("image/png", "image/jpeg", "image/gif", "image/webp")},
            "description": "the image (a PNG thumbnail when Pillow is installed)",
        }
    },
)
def preview_image(pool: Pool, previewer: Previews, artifact_id: str) -> Response:
    """The image an artifact holds (PNG, JPEG, GIF or WebP, recognised by its bytes)."""
    client = pool.client()
    info = client.artifact_info(artifact_id)
    found = previews.image(client, info, previewer)
    if found is None:
        raise HTTPException(
            404,
            f"Artifact {info.artifact.artifact_id} has no image preview: it is not a PNG, "
            "JPEG, GIF or WebP image, or it is too large or too slow to load.",
        )
    data, media_type = found
    headers = {"Cache-Control": "no-store", "Content-Disposition": "inline"}
    return Response(data, media_type=media_type, headers=headers)

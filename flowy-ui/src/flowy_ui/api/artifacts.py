"""``/api/v1/artifacts``: search, one artifact, its bytes, its lineage.

A download is found by artifact id only: the store's own record gives the URI,
and the artifact store opens it (the local store refuses any path that leaves
its root, symbolic links included). No path from the client ever reaches a
file system call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Annotated, Any, BinaryIO, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from flowy_ui import views
from flowy_ui.api import schemas
from flowy_ui.api.deps import ERROR_RESPONSES, Pool

router = APIRouter(prefix="/artifacts", tags=["artifacts"], responses=ERROR_RESPONSES)

CHUNK = 1 << 16
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@router.get("", response_model=schemas.ArtifactList)
def list_artifacts(
    pool: Pool,
    *,
    name: Annotated[str | None, Query(max_length=256)] = None,
    type: Annotated[
        str | None, Query(max_length=64, description="asset type: dataset, model, ...")
    ] = None,
    run_id: Annotated[str | None, Query(max_length=128)] = None,
    pipeline: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Artifacts newest first, by name, asset type, run (id or prefix) or pipeline."""
    found = pool.client().search_artifacts(
        name=name or None,
        asset_type=type or None,
        run_id=run_id or None,
        pipeline=pipeline or None,
        limit=limit,
    )
    return {"items": [views.artifact_item(info) for info in found]}


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

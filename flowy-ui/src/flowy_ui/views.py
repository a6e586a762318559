"""Records of the metadata store as the API's JSON (plain dicts the schemas validate).

Every value that may hold NaN or infinity goes through
:func:`flowy.kernel.records.standard_json`; the stack's options were masked when
the run was recorded, and are masked again here (a value recorded before
masking existed never leaks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowy.kernel.records import standard_json
from flowy.kernel.redact import mask

if TYPE_CHECKING:
    from flowy.kernel.catalog import ArtifactInfo
    from flowy.kernel.records import RunRecord, StepRunRecord


def _duration(started: float | None, finished: float | None) -> float | None:
    if not started or finished is None:
        return None
    return finished - started


def run_item(run: RunRecord, params: dict[str, Any], metrics: dict[str, float]) -> dict[str, Any]:
    stack = run.stack.get("name") if isinstance(run.stack, dict) else None
    return {
        "run_id": run.run_id,
        "pipeline": run.pipeline,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration": _duration(run.started_at, run.finished_at),
        "experiment": run.experiment or run.pipeline,
        "stack": stack if isinstance(stack, str) else None,
        "params": standard_json(mask(params)),
        "metrics": standard_json(metrics),
    }


def step_item(record: StepRunRecord) -> dict[str, Any]:
    return {
        "step": record.step,
        "status": record.status,
        "started_at": record.started_at or None,
        "finished_at": record.finished_at,
        "duration": _duration(record.started_at, record.finished_at),
        "attempts": record.attempts,
        "error": record.error,
        "error_type": record.error_type,
        "outputs": dict(record.outputs),
        "inputs": dict(record.inputs),
        "cache_key": record.cache_key,
        "tags": list(record.tags),
    }


def running_step_item(step: str, started_at: float) -> dict[str, Any]:
    """A step started and not yet recorded (``MetadataStore.running_steps``)."""
    return {
        "step": step,
        "status": "running",
        "started_at": started_at,
        "finished_at": None,
        "duration": None,
        "attempts": 1,
        "error": None,
        "error_type": None,
        "outputs": {},
        "inputs": {},
        "cache_key": None,
        "tags": [],  # the store learns a step's tags when it is recorded
    }


def dag(
    steps: list[StepRunRecord], running: list[tuple[str, float]] | None = None
) -> dict[str, Any]:
    """Nodes in recorded order, then running steps; an edge wherever a step consumed
    another's output (a running step's inputs and tags are known once it is recorded).

    The elements of a mapped step (``train[3]``, each a step run of its own) are
    folded into the mapped step's node, counted by status: a map over 1,000
    elements is one node, not 1,000.
    """
    from flowy.artifacts import element_of

    mapped = {s.step for s in steps} | {name for name, _ in running or ()}
    node_of: dict[str, str] = {}
    elements: dict[str, dict[str, int]] = {}
    for s in steps:
        element = element_of(s.step)
        if element is not None and element[0] in mapped:
            node_of[s.step] = element[0]
            counts = elements.setdefault(element[0], {})
            counts[s.status] = counts.get(s.status, 0) + 1
    producer = {aid: node_of.get(s.step, s.step) for s in steps for aid in s.outputs.values()}
    edges: list[tuple[str, str]] = []
    for s in steps:
        consumer = node_of.get(s.step, s.step)
        for aid in s.inputs.values():
            upstream = producer.get(aid)
            if upstream is not None and upstream != consumer and (upstream, consumer) not in edges:
                edges.append((upstream, consumer))
    nodes: list[dict[str, Any]] = [
        {
            "id": s.step,
            "status": s.status,
            "started_at": s.started_at or None,
            "tags": s.tags,
            "elements": elements.get(s.step),
        }
        for s in steps
        if s.step not in node_of
    ]
    recorded = {s.step for s in steps}
    nodes += [
        {
            "id": name,
            "status": "running",
            "started_at": at,
            "tags": [],
            "elements": elements.get(name),
        }
        for name, at in running or ()
        if name not in recorded
    ]
    return {"nodes": nodes, "edges": edges}


def artifact_item(info: ArtifactInfo) -> dict[str, Any]:
    ref = info.artifact
    return {
        "artifact_id": ref.artifact_id,
        "name": ref.name,
        "type_name": ref.type_name,
        "size": ref.size,
        "checksum": ref.checksum,
        "materializer": ref.materializer,
        "run_id": info.run_id,
        "step": info.step,
        "created_at": info.created_at,
        "asset_type": info.asset_type,
        "pipeline": info.pipeline,
    }


def artifact_detail(info: ArtifactInfo) -> dict[str, Any]:
    """An artifact with its metadata; never its URI (where the store keeps it)."""
    return {
        **artifact_item(info),
        "metadata": standard_json(mask(info.artifact.metadata)),
        "materializer_version": info.artifact.materializer_version,
        "asset_name": info.asset_name,
        "tags": list(info.tags),
    }

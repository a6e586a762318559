"""``/api/v1/models``: the model registry; promote and roll back (editor role).

Writes go to the registry with the caller's token name as the user, and to the
audit log (refused and failed attempts too).
"""

from __future__ import annotations

from typing import Annotated, Any

import attrs
from fastapi import APIRouter, Path, Query
from flowy.kernel import names
from flowy.kernel.records import standard_json
from flowy.kernel.redact import mask

from flowy_ui.api import schemas
from flowy_ui.api.deps import ERROR_RESPONSES, Audit, Pool
from flowy_ui.auth import Principal, require

router = APIRouter(prefix="/models", tags=["models"], responses=ERROR_RESPONSES)

ModelName = Annotated[str, Path(max_length=255)]
Editor = Annotated[Principal, require("editor")]


@router.get("", response_model=schemas.ModelList)
def list_models(pool: Pool) -> dict[str, Any]:
    """Registered models with their newest version and what holds each stage."""
    return {"items": [attrs.asdict(m) for m in pool.client().models.list()]}


@router.get("/{name}", response_model=schemas.ModelDetail)
def get_model(pool: Pool, name: ModelName) -> dict[str, Any]:
    """A model's versions (newest last) and its stage history (oldest first)."""
    registry = pool.client().models
    versions = registry.versions(name)
    summary = next((m for m in registry.list() if m.name == names.check(names.MODEL, name)), None)
    if summary is None or not versions:
        from flowy.kernel.errors import ModelNotFoundError

        raise ModelNotFoundError(f"No model named {name!r} is registered.")
    return {
        **attrs.asdict(summary),
        "versions": [attrs.asdict(v) for v in versions],
        "history": [attrs.asdict(c) for c in registry.history(name)],
    }


def _values(pairs: dict[str, dict[str, Any]], *, delta: bool) -> list[dict[str, Any]]:
    out = []
    for key, pair in pairs.items():
        a, b = standard_json(pair.get("a")), standard_json(pair.get("b"))  # NaN == NaN here
        out.append({
            "name": key, "a": a, "b": b, "changed": a != b,
            "delta": _finite(pair.get("delta")) if delta else None,
        })  # fmt: skip
    return out


def _finite(value: Any) -> float | None:
    import math

    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


@router.get("/{name}/compare", response_model=schemas.ModelComparison)
def compare(
    pool: Pool,
    name: ModelName,
    a: Annotated[int, Query(ge=1, description="one version")],
    b: Annotated[int, Query(ge=1, description="the other version")],
) -> dict[str, Any]:
    """Two versions side by side: their training runs' parameters (differences marked) and
    metrics (``delta`` is b - a), stages, artifacts, training data and lineage size."""
    client = pool.client()
    registry = client.models
    name = names.check(names.MODEL, name)
    found = registry.compare(name, a, b)
    sides = {}
    for key, version in (("a", a), ("b", b)):
        record = registry.get(name, version=version)
        run = client.run(record.run_id)
        sides[key] = {
            **found[key],
            "created_at": record.created_at,
            "created_by": record.created_by,
            "pipeline": run.pipeline,
            "run_status": run.status,
        }
    params = {
        k: {"a": mask({k: v["a"]})[k], "b": mask({k: v["b"]})[k]}
        for k, v in found["params"].items()
    }
    data = found["training_data"]
    ancestors = {
        key: len(registry.details(name, version)["ancestors"])
        for key, version in (("a", a), ("b", b))
    }
    return {
        "name": name,
        "a": sides["a"],
        "b": sides["b"],
        "params": _values(params, delta=False),
        "params_changed": found["params_changed"],
        "metrics": _values(found["metrics"], delta=True),
        "training_data_same": data["same"],
        "training_data_a": data["a"],
        "training_data_b": data["b"],
        "ancestors_a": ancestors["a"],
        "ancestors_b": ancestors["b"],
        "artifacts_same": sides["a"]["artifact_id"] == sides["b"]["artifact_id"],
    }


@router.post("/{name}/promote", response_model=schemas.StageChanges)
def promote(
    pool: Pool, audit: Audit, who: Editor, name: ModelName, body: schemas.PromoteRequest
) -> dict[str, Any]:
    """Move a version to a stage; the version that held it is archived."""
    target = f"{name}@{body.version}"
    try:
        catalog = pool.client().models.catalog
        changes = catalog.set_model_stage(
            names.check(names.MODEL, name),
            body.version,
            names.check(names.STAGE, body.stage),
            user=who.name,
        )
    except Exception as exc:
        audit.record(who.name, "model.promote", target, "failed", stage=body.stage, error=str(exc))
        raise
    audit.record(who.name, "model.promote", target, stage=body.stage)
    return {"changes": [attrs.asdict(c) for c in changes]}


@router.post("/{name}/rollback", response_model=schemas.StageChanges)
def rollback(pool: Pool, audit: Audit, who: Editor, name: ModelName) -> dict[str, Any]:
    """Production returns to the version that held it before the current one."""
    try:
        catalog = pool.client().models.catalog
        changes = catalog.rollback_model(names.check(names.MODEL, name), user=who.name)
    except Exception as exc:
        audit.record(who.name, "model.rollback", name, "failed", error=str(exc))
        raise
    audit.record(who.name, "model.rollback", name)
    return {"changes": [attrs.asdict(c) for c in changes]}

"""Records to rows and back: the only place that knows both shapes.

JSON columns are TEXT. One shared encoder (compact separators) is reused:
building one per ``json.dumps`` call with options costs more than the encoding
of the small dicts we store. Values JSON cannot hold (a Path in a parameter,
say) are stored as their ``str``: losing a run's record over a parameter's
type would be worse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flowy.records import ArtifactRef, CacheEntry, MetricRecord, RunRecord, StepRunRecord

# flowy.assets.ASSET_KEY and PLAIN, spelled out: importing flowy.assets (attrs classes)
# would add milliseconds to every command that opens the store.
ASSET_KEY = "flowy_asset"
PLAIN = "artifact"

_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode
_decode = json.loads


def dumps(value: Any) -> str:
    return "{}" if not value and isinstance(value, dict) else _encode(value)


def loads(text: str | None) -> Any:
    return {} if text is None or text == "{}" else _decode(text)


def run_row(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "pipeline": run.pipeline,
        "status": run.status,
        "params": dumps(run.params),
        "stack": dumps(run.stack),
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "git": dumps(run.git),
        "environment": dumps(run.environment),
        "experiment": run.experiment,
        "pid": run.pid,
        "host": run.host,
    }


def run_record(row: Mapping[Any, Any]) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        pipeline=row["pipeline"],
        status=row["status"],
        params=loads(row["params"]),
        stack=loads(row["stack"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        git=loads(row["git"]),
        environment=loads(row["environment"]),
        experiment=row["experiment"],
        pid=row["pid"],
        host=row["host"],
    )


def step_row(sr: StepRunRecord) -> dict[str, Any]:
    return {
        "run_id": sr.run_id,
        "step": sr.step,
        "status": sr.status,
        "started_at": sr.started_at,
        "finished_at": sr.finished_at,
        "attempts": sr.attempts,
        "cache_key": sr.cache_key,
        "code_hash": sr.code_hash,
        "error": sr.error,
        "error_type": sr.error_type,
        "traceback": sr.traceback,
        "logs": sr.logs,
        "params": dumps(sr.params),
        "inputs": dumps(sr.inputs),
        "outputs": dumps(sr.outputs),
    }


def step_record(row: Mapping[Any, Any]) -> StepRunRecord:
    return StepRunRecord(
        run_id=row["run_id"],
        step=row["step"],
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        attempts=row["attempts"],
        cache_key=row["cache_key"],
        code_hash=row["code_hash"],
        error=row["error"],
        error_type=row["error_type"],
        traceback=row["traceback"],
        logs=row["logs"],
        params=loads(row["params"]),
        inputs=loads(row["inputs"]),
        outputs=loads(row["outputs"]),
    )


def artifact_row(ref: ArtifactRef, run_id: str, step: str, now: float) -> dict[str, Any]:
    if not ref.artifact_id:
        raise ValueError(
            f"artifact {ref.name!r} of step {step!r} has no artifact_id; the engine must "
            "assign one before record_step"
        )
    return {
        "artifact_id": ref.artifact_id,
        "run_id": run_id,
        "step": step,
        "name": ref.name,
        "uri": ref.uri,
        "type_name": ref.type_name,
        "materializer": ref.materializer,
        "materializer_version": ref.materializer_version,
        "checksum": ref.checksum,
        "size": ref.size,
        "metadata": dumps(ref.metadata),
        "created_at": now,
        "asset_type": asset_type(ref),
        "asset_name": _asset(ref).get("name"),
    }


def _asset(ref: ArtifactRef) -> Mapping[str, Any]:
    """The asset description a step's output carried (flowy.assets), or {}."""
    found = ref.metadata.get(ASSET_KEY) if ref.metadata else None
    return found if isinstance(found, Mapping) else {}


def asset_type(ref: ArtifactRef) -> str:
    return str(_asset(ref).get("type") or PLAIN)[:32]


def tag_rows(ref: ArtifactRef) -> list[dict[str, Any]]:
    """One row per distinct tag of the artifact's asset."""
    tags = _asset(ref).get("tags") or []
    return [{"artifact_id": ref.artifact_id, "tag": str(t)} for t in dict.fromkeys(tags)]


def artifact_record(row: Mapping[Any, Any]) -> ArtifactRef:
    return ArtifactRef(
        name=row["name"],
        uri=row["uri"],
        checksum=row["checksum"],
        size=row["size"],
        materializer=row["materializer"],
        materializer_version=row["materializer_version"],
        type_name=row["type_name"],
        metadata=loads(row["metadata"]),
        artifact_id=row["artifact_id"],
    )


def metric_row(metric: MetricRecord, run_id: str, step: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "step": step,
        "name": metric.name,
        "value": metric.value,
        "idx": metric.step,
        "timestamp": metric.timestamp,
    }


def metric_record(row: Mapping[Any, Any]) -> MetricRecord:
    return MetricRecord(
        name=row["name"], value=row["value"], step=row["idx"], timestamp=row["timestamp"]
    )


def cache_row(entry: CacheEntry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "pipeline": entry.pipeline,
        "step": entry.step,
        "run_id": entry.run_id,
        "components": dumps(entry.components),
        "outputs": dumps(entry.outputs),
        "created_at": entry.created_at,
        "hits": 0,
    }


def cache_record(row: Mapping[Any, Any]) -> CacheEntry:
    return CacheEntry(
        key=row["key"],
        pipeline=row["pipeline"],
        step=row["step"],
        run_id=row["run_id"],
        components=loads(row["components"]),
        outputs=loads(row["outputs"]),
        created_at=row["created_at"],
    )

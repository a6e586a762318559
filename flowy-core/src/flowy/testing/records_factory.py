"""Records with sensible defaults for the metadata store contract suites.

``make_run``, ``make_artifact``, ``make_step`` and ``make_entry`` build a valid
record from only what a test cares about, so each contract test names just the fields
it checks. Also handy in a store's own tests (``flowy.testing.metadata_store`` re-exports them).
"""

from __future__ import annotations

import uuid
from typing import Any

from flowy.kernel.records import ArtifactRef, CacheEntry, RunRecord, StepRunRecord


def make_run(
    pipeline: str = "train", started_at: float = 1000.0, run_id: str | None = None, **kw: Any
) -> RunRecord:
    return RunRecord(
        run_id=run_id or uuid.uuid4().hex,
        pipeline=pipeline,
        status=kw.pop("status", "running"),
        started_at=started_at,
        **kw,
    )


def make_artifact(name: str = "model", artifact_id: str | None = None, **kw: Any) -> ArtifactRef:
    aid = artifact_id or uuid.uuid4().hex
    fields: dict[str, Any] = {
        "uri": f"/store/{aid}/{name}",
        "checksum": "ab" * 32,
        "size": 123,
        "materializer": "json",
        "materializer_version": "1",
        "type_name": "builtins.dict",
        "metadata": {"keys": 3, "nested": {"shape": [2, 3]}},
    }
    fields.update(kw)
    return ArtifactRef(name=name, artifact_id=aid, **fields)


def make_step(run: RunRecord, step: str = "fit", **kw: Any) -> StepRunRecord:
    kw.setdefault("status", "completed")
    kw.setdefault("started_at", run.started_at + 1)
    kw.setdefault("finished_at", run.started_at + 2)
    return StepRunRecord(run_id=run.run_id, step=step, **kw)


def make_entry(run: RunRecord, step: str, outputs: dict[str, str], **kw: Any) -> CacheEntry:
    kw.setdefault("key", uuid.uuid4().hex)
    kw.setdefault("components", {"code_hash": "c0de", "input_hash": "1234"})
    kw.setdefault("created_at", run.started_at + 2)
    return CacheEntry(pipeline=run.pipeline, step=step, run_id=run.run_id, outputs=outputs, **kw)

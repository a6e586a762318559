"""Records that cross process, machine and storage boundaries.

These are plain attrs classes converted with cattrs (see :func:`to_dict` and
:func:`from_dict`), so the same record can be pickled to a process pool, sent
to a Dask worker, written as JSON next to a SageMaker job, or stored in the
metadata store. They hold data only, never live objects.

The *step task* / *step result* pair is the one protocol every executor
speaks (see ARCHITECTURE.md, "The step task").
"""

from __future__ import annotations

import functools
import math
from typing import Any, TypeVar

import attrs

T = TypeVar("T")

#: Terminal states of a step run.
COMPLETED = "completed"
CACHED = "cached"
FAILED = "failed"
TIMED_OUT = "timed_out"
SKIPPED = "skipped"
CANCELLED = "cancelled"
RUNNING = "running"
PENDING = "pending"
CRASHED = "crashed"

STEP_STATUSES = (COMPLETED, CACHED, FAILED, TIMED_OUT, SKIPPED, CANCELLED, RUNNING, PENDING)
RUN_STATUSES = (RUNNING, COMPLETED, FAILED, CANCELLED, CRASHED)


@attrs.frozen
class ComponentSpec:
    """One stack component: which implementation, with which options."""

    kind: str
    name: str
    options: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class StepRef:
    """How a worker finds a step function without receiving it pickled.

    ``module`` is an importable module name; when the pipeline was loaded from
    a file (``flowy run path/to/file.py``) ``path`` holds that file so a worker
    can load it the same way.
    """

    module: str
    qualname: str
    path: str | None = None


@attrs.frozen
class ArtifactRef:
    """An artifact as written: where, what, and how to read it back safely."""

    name: str
    uri: str
    checksum: str
    size: int
    materializer: str
    materializer_version: str
    type_name: str
    metadata: dict[str, Any] = attrs.field(factory=dict)
    artifact_id: str = ""


@attrs.frozen
class StepTask:
    """Everything a worker needs to run one step, and nothing live."""

    run_id: str
    pipeline: str
    step: str
    step_ref: StepRef
    code_hash: str
    params: dict[str, Any]
    inputs: dict[str, ArtifactRef]
    outputs: list[str]
    artifact_store: ComponentSpec
    retries: int = 0
    retry_backoff: float = 1.0
    retry_on: list[str] = attrs.field(factory=lambda: ["builtins.Exception"])
    timeout: float | None = None
    resources: dict[str, Any] = attrs.field(factory=dict)
    allow_pickle: bool = False
    artifact_prefix: str = ""


@attrs.frozen
class MetricRecord:
    """A metric value logged from inside a step."""

    name: str
    value: float
    step: int | None = None
    timestamp: float = 0.0


@attrs.frozen
class StepResult:
    """What a worker reports back for a step task."""

    step: str
    status: str
    outputs: dict[str, ArtifactRef] = attrs.field(factory=dict)
    logs: str = ""
    metrics: list[MetricRecord] = attrs.field(factory=list)
    params_logged: dict[str, Any] = attrs.field(factory=dict)
    started_at: float = 0.0
    finished_at: float = 0.0
    attempts: int = 1
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    retryable: bool = True
    """False when the error is not in the step's ``retry_on``: retrying would not help."""
    artifacts_logged: list[ArtifactRef] = attrs.field(factory=list)
    """Files the step stored with ``flowy.log_artifact`` (already in the artifact store)."""


@attrs.define
class RunRecord:
    """A pipeline run as the metadata store keeps it."""

    run_id: str
    pipeline: str
    status: str
    params: dict[str, Any] = attrs.field(factory=dict)
    stack: dict[str, Any] = attrs.field(factory=dict)
    started_at: float = 0.0
    finished_at: float | None = None
    git: dict[str, Any] = attrs.field(factory=dict)
    environment: dict[str, Any] = attrs.field(factory=dict)
    experiment: str | None = None
    pid: int | None = None
    host: str | None = None


@attrs.define
class StepRunRecord:
    """One step of one run as the metadata store keeps it."""

    run_id: str
    step: str
    status: str
    started_at: float = 0.0
    finished_at: float | None = None
    attempts: int = 0
    cache_key: str | None = None
    """The key of the step's code, inputs and parameters as it ran (or was re-used).

    The cache key for a cached step; for one that ran uncached the default
    key (code and inputs), so ``--resume`` can check an output is still current.
    """
    code_hash: str | None = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    logs: str = ""
    params: dict[str, Any] = attrs.field(factory=dict)
    inputs: dict[str, str] = attrs.field(factory=dict)
    """Input name -> artifact id consumed."""
    outputs: dict[str, str] = attrs.field(factory=dict)
    """Output name -> artifact id produced (or re-used, for a cached step)."""

    @property
    def duration(self) -> float | None:
        if self.finished_at is None or not self.started_at:
            return None
        return self.finished_at - self.started_at


@attrs.frozen
class CacheEntry:
    """A cache key and the artifacts it maps to, with the key's parts for ``cache explain``."""

    key: str
    pipeline: str
    step: str
    run_id: str
    components: dict[str, str]
    outputs: dict[str, str]
    """Output name -> artifact id."""
    created_at: float = 0.0


@functools.cache
def _converter() -> Any:
    import cattrs

    return cattrs.Converter()


def to_dict(record: Any) -> dict[str, Any]:
    """Unstructure a record into JSON-compatible builtins."""
    result: dict[str, Any] = _converter().unstructure(record)
    return result


def from_dict(data: dict[str, Any], cls: type[T]) -> T:
    """Structure builtins back into a record of type ``cls``."""
    result: T = _converter().structure(data, cls)
    return result


def standard_json(value: Any) -> Any:
    """``value`` with every NaN/±inf float (in dicts, lists, tuples) as a JSON string.

    A metric may be NaN or infinite (a diverged loss is a real result), but JSON
    has no such numbers and strict parsers (JavaScript's, jq's) refuse Python's
    bare ``NaN``. Whatever Flowy writes as JSON for others to read (``--json``,
    reports) spells them ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, as the
    Protocol Buffers JSON mapping does. Other values are returned as they are.
    """
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {standard_json(k): standard_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [standard_json(v) for v in value]
    return value

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
    """The component kind (``executor``, ``artifact_store``, ``metadata_store``, ``tracker``,
    ``cache`` or a kind a plugin added).
    """
    name: str
    """The registered name of the implementation (``local``, ``sqlite``, ``s3``...)."""
    options: dict[str, Any] = attrs.field(factory=dict)
    """Keyword options the implementation is built with, as the stack gives them (``{env:}``
    references still unexpanded where a worker must expand them).
    """


@attrs.frozen
class StepRef:
    """How a worker finds a step function without receiving it pickled.

    ``module`` is an importable module name; when the pipeline was loaded from
    a file (``flowy run path/to/file.py``) ``path`` holds that file so a worker
    can load it the same way.
    """

    module: str
    """Importable module name of the step function's module."""
    qualname: str
    """Qualified name of the step function inside ``module``."""
    path: str | None = None
    """The pipeline file the module was loaded from by path, or None when ``module`` imports
    normally.
    """


@attrs.frozen
class ArtifactRef:
    """An artifact as written: where, what, and how to read it back safely."""

    name: str
    """The output (or logged file) name the artifact was written under."""
    uri: str
    """Where the artifact store keeps it; read it back through that store."""
    checksum: str
    """Checksum of the stored bytes (``sha256:...``), checked on every read."""
    size: int
    """Size of the stored artifact in bytes."""
    materializer: str
    """Registered name of the materializer that wrote it (and must read it)."""
    materializer_version: str
    """Version of the distribution that provided that materializer."""
    type_name: str
    """Fully qualified type name of the Python object that was written."""
    metadata: dict[str, Any] = attrs.field(factory=dict)
    """What the materializer extracted: shape, dtype, schema, statistics (JSON-compatible)."""
    artifact_id: str = ""
    """The metadata store's id for the artifact; empty until it is recorded."""


@attrs.frozen
class StepTask:
    """Everything a worker needs to run one step, and nothing live."""

    run_id: str
    """The run the step belongs to."""
    pipeline: str
    """The pipeline's name."""
    step: str
    """The step's name in the pipeline."""
    step_ref: StepRef
    """How the worker imports the step function."""
    code_hash: str
    """Digest of the step's code, recorded with the result and used in its cache key."""
    params: dict[str, Any]
    """Parameter name -> value the step function receives (from the Context, after overrides)."""
    inputs: dict[str, ArtifactRef]
    """Input name -> the upstream artifact the worker loads for that argument."""
    outputs: list[str]
    """Names of the outputs the step must produce, in declaration order."""
    artifact_store: ComponentSpec
    """The artifact store the worker rebuilds to read inputs and write outputs."""
    retries: int = 0
    """Extra attempts after a failed one (0: a single attempt)."""
    retry_backoff: float = 1.0
    """Seconds to wait before the first retry; doubled before each further one."""
    retry_on: list[str] = attrs.field(factory=lambda: ["builtins.Exception"])
    """Fully qualified exception types worth a retry; any other error fails the step at once."""
    timeout: float | None = None
    """Seconds one attempt may run before it is stopped as ``timed_out``; None for no limit."""
    resources: dict[str, Any] = attrs.field(factory=dict)
    """What the step asked for (``cpus``, ``gpus``, ``memory``...); executors that schedule honour
    it, others ignore it.
    """
    allow_pickle: bool = False
    """Whether the run opted in to pickle, so a worker may write or read pickled artifacts."""
    artifact_prefix: str = ""
    """Key prefix under which the step's artifacts are written in the artifact store (empty: the
    store's root).
    """
    split: list[str] = attrs.field(factory=list)
    """Outputs a downstream step maps over (``@step(map=...)``): each is stored element by
    element, as artifacts ``NAME[i]`` plus a collection listing them under ``NAME``."""


@attrs.frozen
class MetricRecord:
    """A metric value logged from inside a step."""

    name: str
    """The metric's name as logged."""
    value: float
    """The value; NaN and ±inf are kept as they are."""
    step: int | None = None
    """The series index given as ``log_metric(step=...)``, or None for a single value."""
    timestamp: float = 0.0
    """When it was logged, in seconds since the epoch."""


@attrs.frozen
class ResourceUsage:
    """What one step's attempts cost, measured where they ran (:mod:`flowy.run.resource_usage`).

    Each figure is None where it could not be measured (no ``/proc``, no NVML).
    """

    cpu_seconds: float | None = None
    """User plus system CPU time, summed over the attempts."""
    peak_rss_bytes: int | None = None
    """The highest resident set size while an attempt ran (the largest of the attempts)."""
    read_bytes: int | None = None
    """Bytes passed to read system calls (files, pipes, sockets), summed over the attempts."""
    written_bytes: int | None = None
    """Bytes passed to write system calls, summed over the attempts."""
    gpu_memory_bytes: int | None = None
    """GPU memory the process held when an attempt ended (NVML; the largest)."""
    gpu_utilization: float | None = None
    """Mean GPU utilisation of the process while it ran, in percent (NVML)."""

    def columns(self) -> dict[str, Any]:
        """The figures by the names :class:`StepRunRecord` (and ``step_runs``) give them."""
        return attrs.asdict(self)


@attrs.frozen
class StepResult:
    """What a worker reports back for a step task."""

    step: str
    """The step's name."""
    status: str
    """One of ``completed``, ``failed``, ``timed_out`` or ``cancelled``."""
    outputs: dict[str, ArtifactRef] = attrs.field(factory=dict)
    """Output name -> the artifact written (empty unless completed)."""
    logs: str = ""
    """Captured stdout and stderr of the step, tracebacks included."""
    metrics: list[MetricRecord] = attrs.field(factory=list)
    """Metrics the step logged with ``flowy.log_metric``, in order."""
    params_logged: dict[str, Any] = attrs.field(factory=dict)
    """Parameters the step logged with ``flowy.log_param``."""
    started_at: float = 0.0
    """When the first attempt started, in seconds since the epoch."""
    finished_at: float = 0.0
    """When the last attempt ended, in seconds since the epoch."""
    attempts: int = 1
    """How many attempts were made (retries included)."""
    error: str | None = None
    """The last attempt's error message, or None when completed."""
    error_type: str | None = None
    """Fully qualified type of that error."""
    traceback: str | None = None
    """Its formatted traceback, with the file the step came from."""
    retryable: bool = True
    """False when the error is not in the step's ``retry_on``: retrying would not help."""
    artifacts_logged: list[ArtifactRef] = attrs.field(factory=list)
    """Files the step stored with ``flowy.log_artifact`` (already in the artifact store)."""
    resources: ResourceUsage | None = None
    """CPU, memory, I/O and GPU use of the attempts (None where not measured)."""


@attrs.define
class RunRecord:
    """A pipeline run as the metadata store keeps it."""

    run_id: str
    """Unique id of the run."""
    pipeline: str
    """The pipeline's name."""
    status: str
    """One of ``running``, ``completed``, ``failed``, ``cancelled`` or ``crashed``."""
    params: dict[str, Any] = attrs.field(factory=dict)
    """The run's parameters (the Context's values after overrides)."""
    stack: dict[str, Any] = attrs.field(factory=dict)
    """The stack the run used: its name and each component's kind, name and options (secrets
    masked).
    """
    started_at: float = 0.0
    """When the run started, in seconds since the epoch."""
    finished_at: float | None = None
    """When it ended, or None while it runs."""
    git: dict[str, Any] = attrs.field(factory=dict)
    """Git facts of the project: commit, branch, dirty (empty outside a repository)."""
    environment: dict[str, Any] = attrs.field(factory=dict)
    """Python version, platform and installed Flowy distributions."""
    experiment: str | None = None
    """The experiment the run belongs to, if any."""
    pid: int | None = None
    """Process id of the orchestrating process (to tell a crashed run from a running one)."""
    host: str | None = None
    """Host name of the orchestrating process."""


@attrs.define
class StepRunRecord:
    """One step of one run as the metadata store keeps it."""

    run_id: str
    """The run the step belongs to."""
    step: str
    """The step's name."""
    status: str
    """One of ``completed``, ``cached``, ``failed``, ``timed_out``, ``skipped``, ``cancelled``,
    ``running`` or ``pending``.
    """
    started_at: float = 0.0
    """When the step started, in seconds since the epoch (0 if it never did)."""
    finished_at: float | None = None
    """When it ended, or None while it runs."""
    attempts: int = 0
    """Attempts made (0 for a cached or skipped step)."""
    cache_key: str | None = None
    """The key of the step's code, inputs and parameters as it ran (or was re-used).

    The cache key for a cached step; for one that ran uncached the default
    key (code and inputs), so ``--resume`` can check an output is still current.
    """
    code_hash: str | None = None
    """Digest of the step's code as it ran."""
    error: str | None = None
    """The error message of a failed step."""
    error_type: str | None = None
    """Fully qualified type of that error."""
    traceback: str | None = None
    """Its formatted traceback."""
    logs: str = ""
    """Captured stdout and stderr (``flowy logs RUN --step NAME``)."""
    params: dict[str, Any] = attrs.field(factory=dict)
    """The parameters the step received."""
    inputs: dict[str, str] = attrs.field(factory=dict)
    """Input name -> artifact id consumed."""
    outputs: dict[str, str] = attrs.field(factory=dict)
    """Output name -> artifact id produced (or re-used, for a cached step)."""
    tags: list[str] = attrs.field(factory=list)
    """The step's tags (``@step(tags=[...])``), sorted and unique: the run page groups its
    DAG by them. Empty for a step without tags and for rows recorded before tags were kept.
    """
    cpu_seconds: float | None = None
    """CPU time the step used (see :class:`ResourceUsage`; None where not measured)."""
    peak_rss_bytes: int | None = None
    """Its peak resident set size, in bytes."""
    read_bytes: int | None = None
    """Bytes it read (read system calls)."""
    written_bytes: int | None = None
    """Bytes it wrote (write system calls)."""
    gpu_memory_bytes: int | None = None
    """GPU memory it held (NVML), in bytes."""
    gpu_utilization: float | None = None
    """Its mean GPU utilisation (NVML), in percent."""

    @property
    def duration(self) -> float | None:
        if self.finished_at is None or not self.started_at:
            return None
        return self.finished_at - self.started_at


@attrs.frozen
class RunChange:
    """One entry of the metadata store's change feed (see ``MetadataStore.changes_since``).

    Written in the same transaction as the change it tells of, so a reader that
    follows the feed never hears of a change that is not (yet) in the store.
    """

    seq: int
    """Its place in the feed: grows with every change, in every process."""
    run_id: str
    """The run that changed."""
    step: str | None
    """The step that changed (None for a change of the run itself)."""
    kind: str
    """``run``, ``step``, or ``output`` (a running step printed more: see
    ``MetadataStore.append_step_output``)."""
    status: str
    """The new status: a run's or step's status, ``running`` when a step started,
    ``cancelling`` when a run was asked to cancel."""
    at: float
    """When, in seconds since the epoch."""


@attrs.frozen
class CacheEntry:
    """A cache key and the artifacts it maps to, with the key's parts for ``cache explain``."""

    key: str
    """The cache key: a digest of the key parts in ``components``."""
    pipeline: str
    """The pipeline's name."""
    step: str
    """The step's name."""
    run_id: str
    """The run that produced the outputs."""
    components: dict[str, str]
    """Key part name (code, inputs, params, a strategy's part) -> its digest, so ``cache explain``
    can say which part changed.
    """
    outputs: dict[str, str]
    """Output name -> artifact id."""
    created_at: float = 0.0
    """When the entry was recorded, in seconds since the epoch."""


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

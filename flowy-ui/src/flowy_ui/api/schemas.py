"""The API's response and request bodies: the OpenAPI schema is generated from these.

Numbers that may be NaN or infinite (metrics) are ``float | str``: they are sent as
the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (strict JSON, as the CLI's
``--json`` writes them). Fields are only ever added, never renamed: the frontend is
generated from this schema.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Number = float | str
"""A float, or "NaN" / "Infinity" / "-Infinity"."""


class Health(BaseModel):
    status: str
    version: str
    read_only: bool = False
    auth: bool = False


class RunItem(BaseModel):
    run_id: str
    pipeline: str
    status: str
    started_at: float
    finished_at: float | None
    duration: float | None
    experiment: str
    stack: str | None
    params: dict[str, Any]
    metrics: dict[str, Number]


class RunPage(BaseModel):
    items: list[RunItem]
    next_cursor: str | None
    # The runs list's column chooser: params.<name> and metrics.<name> recorded in the
    # store; sent on the first page of a request that names ``columns``.
    available_columns: list[str] | None = None


class StepItem(BaseModel):
    step: str
    status: str
    started_at: float | None
    finished_at: float | None
    duration: float | None
    attempts: int
    error: str | None
    error_type: str | None
    outputs: dict[str, str]
    inputs: dict[str, str]
    cache_key: str | None = None
    tags: list[str] = Field(
        default_factory=list, description="The step's tags, sorted ([] until it is recorded)."
    )


class RunDetail(RunItem):
    git: dict[str, Any]
    environment: dict[str, Any]
    host: str | None = None
    steps: list[StepItem]


class DagNode(BaseModel):
    id: str
    status: str
    started_at: float | None = None
    tags: list[str] = Field(
        default_factory=list,
        description="The step's tags, sorted; the run page groups the DAG by them.",
    )
    elements: dict[str, int] | None = Field(
        default=None,
        description="A mapped step's elements recorded so far, by status (each element is a "
        "step run of its own, `step[i]`, folded into this node); null for other steps.",
    )


class Dag(BaseModel):
    nodes: list[DagNode]
    edges: list[tuple[str, str]]


class StepLogs(BaseModel):
    run_id: str
    step: str
    logs: str
    traceback: str | None
    live: bool = Field(
        default=False,
        description="True while the step runs: `logs` is its output so far (a capped tail).",
    )


class MetricSeries(BaseModel):
    series: dict[str, list[tuple[float, Number]]]
    points: int = Field(description="The point budget each series was reduced to.")
    total: dict[str, int] = Field(default_factory=dict, description="Points recorded per series.")


class ArtifactItem(BaseModel):
    artifact_id: str
    name: str
    type_name: str
    size: int
    checksum: str
    materializer: str
    run_id: str
    step: str
    created_at: float
    asset_type: str = "artifact"
    pipeline: str | None = None


class ArtifactList(BaseModel):
    items: list[ArtifactItem]


class ArtifactDetail(ArtifactItem):
    metadata: dict[str, Any]
    materializer_version: str
    asset_name: str | None = None
    tags: list[str] = Field(default_factory=list)


class Lineage(BaseModel):
    root: str
    nodes: list[ArtifactItem]
    edges: list[tuple[str, str]]


# -- artifact previews, artifact search pages, model comparison -------------------------
# (api/artifacts.py, api/models.py, flowy_ui.previews; every number here is finite or null)


class ArtifactPage(BaseModel):
    """One page of an artifact search, newest first."""

    items: list[ArtifactItem]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")


class PreviewStats(BaseModel):
    """A column's or an array's statistics; NaN and infinities are null (counted apart)."""

    count: int | None = None
    nulls: int | None = None
    nan: int | None = None
    inf: int | None = None
    mean: float | None = None
    std: float | None = None
    min: float | str | None = None
    max: float | str | None = None
    unique: int | None = None
    top: str | None = None


class PreviewColumn(BaseModel):
    name: str
    dtype: str
    stats: PreviewStats | None = Field(default=None, description="For the first 50 columns.")


class PreviewHistogram(BaseModel):
    edges: list[float | None] = Field(description="bins + 1 edges")
    counts: list[int]
    values: int = Field(description="How many values were counted.")
    sampled: bool = Field(description="Whether those were a random sample of the finite values.")


Cell = str | int | float | bool | None


class ArtifactPreview(BaseModel):
    """What an artifact holds, summarised; which fields are set depends on ``kind``."""

    kind: Literal[
        "frame", "array", "image", "json", "text", "model", "none", "too_large", "timed_out",
        "unsafe",
    ]  # fmt: skip
    artifact_id: str
    size: int | None = None
    materializer_distribution: str | None = Field(
        default=None, description="The distribution whose materializer wrote the artifact."
    )
    materializer_format: str | None = None
    message: str | None = Field(default=None, description="Why there is no (full) preview.")
    limit: int | None = Field(default=None, description="too_large: the size limit in bytes.")
    timeout: float | None = Field(default=None, description="timed_out: the limit in seconds.")
    truncated: bool = False
    length: int | None = Field(default=None, description="Characters, items or bytes in all.")
    # frame
    rows: int | None = None
    total_columns: int | None = None
    columns: list[PreviewColumn] | None = None
    head_columns: list[str] | None = None
    head_index: list[Cell] | None = None
    head: list[list[Cell]] | None = None
    # array
    shape: list[int] | None = None
    dtype: str | None = None
    values: list[Cell] | None = None
    stats: PreviewStats | None = None
    histogram: PreviewHistogram | None = None
    # image
    media_type: str | None = None
    width: int | None = None
    height: int | None = None
    image_url: str | None = None
    # json, text
    text: str | None = None
    # model
    class_name: str | None = None
    framework: str | None = None
    parameter_count: int | None = None
    params: dict[str, Cell] | None = None
    n_features_in: int | None = None
    n_classes: int | None = None
    coef_shape: list[int] | None = None
    facts: dict[str, Cell] | None = None


class ModelCompareSide(BaseModel):
    version: int
    run_id: str
    artifact_id: str
    stage: str
    created_at: float | None = None
    created_by: str | None = None
    pipeline: str | None = None
    run_status: str | None = None


class ModelCompareValue(BaseModel):
    name: str
    a: Any = None
    b: Any = None
    delta: float | None = None
    changed: bool


class ModelCompareData(BaseModel):
    artifact_id: str
    name: str
    step: str | None = None
    asset_type: str | None = None


class ModelComparison(BaseModel):
    """Two versions of a model side by side: what changed between their training runs."""

    name: str
    a: ModelCompareSide
    b: ModelCompareSide
    params: list[ModelCompareValue]
    params_changed: list[str]
    metrics: list[ModelCompareValue] = Field(description="Non-finite values are strings.")
    training_data_same: bool
    training_data_a: list[ModelCompareData]
    training_data_b: list[ModelCompareData]
    ancestors_a: int = Field(description="Artifacts upstream of version a's artifact.")
    ancestors_b: int
    artifacts_same: bool = Field(description="Both versions are the same artifact.")


class ExperimentItem(BaseModel):
    name: str
    runs: int
    last_run_at: float | None
    first_run_at: float | None = None
    completed: int = 0
    failed: int = 0
    pipelines: list[str] = Field(default_factory=list)


class ExperimentList(BaseModel):
    items: list[ExperimentItem]


class ModelItem(BaseModel):
    name: str
    created_at: float
    description: str
    latest_version: int
    stages: dict[str, int]


class ModelList(BaseModel):
    items: list[ModelItem]


class ModelVersionItem(BaseModel):
    name: str
    version: int
    artifact_id: str
    run_id: str
    stage: str
    created_at: float
    created_by: str
    description: str = ""


class StageChangeItem(BaseModel):
    name: str
    version: int
    action: str
    from_stage: str | None
    to_stage: str
    user: str
    at: float


class ModelDetail(ModelItem):
    versions: list[ModelVersionItem]
    history: list[StageChangeItem]


class PromoteRequest(BaseModel):
    version: int = Field(ge=1)
    stage: str = Field(min_length=1, max_length=64)


class StageChanges(BaseModel):
    changes: list[StageChangeItem]


class StackItem(BaseModel):
    name: str
    scope: str
    description: str
    active: bool
    components: dict[str, dict[str, Any]]
    error: str | None = None


class StackList(BaseModel):
    active: str | None
    items: list[StackItem]


class ProbeResult(BaseModel):
    ok: bool
    ms: float | None
    error: str | None


class ComponentHealth(BaseModel):
    type: str
    distribution: str
    version: str
    resolved: bool
    probe: ProbeResult | None


class StackHealth(BaseModel):
    name: str
    served: bool
    ok: bool
    problems: list[str]
    components: dict[str, ComponentHealth]


class PluginItem(BaseModel):
    name: str
    distribution: str
    version: str
    module: str
    status: str
    error: str | None = None
    hooks: list[str] = Field(default_factory=list)
    provides: dict[str, list[str]] = Field(default_factory=dict)
    requires_core: str | None = None


class PluginList(BaseModel):
    items: list[PluginItem]


class AuditEntry(BaseModel):
    time: float
    token: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditList(BaseModel):
    items: list[AuditEntry]


class CacheStats(BaseModel):
    entries: int
    hits: int
    pipelines: dict[str, int] = Field(default_factory=dict)


# -- experiments and comparing runs (api/experiments.py, api/compare.py) ----------------


class ExperimentRuns(BaseModel):
    """One page of an experiment's runs, with the parameter and metric columns they have."""

    name: str
    items: list[RunItem]
    next_cursor: str | None
    param_names: list[str] = Field(description="Parameter columns, the most widely set first.")
    metric_names: list[str] = Field(description="Metric columns, the most widely logged first.")


class CompareRun(BaseModel):
    run_id: str
    pipeline: str
    experiment: str
    status: str
    started_at: float
    finished_at: float | None


class CompareRow(BaseModel):
    """A parameter or metric: each run's value (in ``runs`` order; null where absent)."""

    name: str
    values: list[Any]
    changed: bool


class CompareBest(BaseModel):
    metric: str
    mode: str
    run_id: str | None = Field(description="None when no completed run has a finite value.")
    value: Number | None


class Comparison(BaseModel):
    runs: list[CompareRun]
    params: list[CompareRow] = Field(description="Only differing ones unless all=true.")
    params_total: int = Field(description="Parameter names across the runs, differing or not.")
    metrics: list[CompareRow] = Field(description="Each metric's last value per run.")
    metric_names: list[str]
    series: dict[str, dict[str, list[tuple[float, Number]]]] = Field(
        description="metric -> run id -> points, each reduced to at most `points`."
    )
    series_total: dict[str, dict[str, int]] = Field(description="Points recorded per series.")
    points: int
    best: CompareBest | None


# -- live updates and cancelling runs (api/live.py, POST /runs/{id}/cancel) ------------


class CancelAccepted(BaseModel):
    run_id: str
    requested: bool = Field(description="False when the run had been asked to cancel already.")
    status: str = Field(description="``cancelling``: the run's process stops it within a second.")

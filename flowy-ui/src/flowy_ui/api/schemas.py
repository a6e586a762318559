"""The API's response and request bodies: the OpenAPI schema is generated from these.

Numbers that may be NaN or infinite (metrics) are ``float | str``: they are sent as
the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (strict JSON, as the CLI's
``--json`` writes them). Fields are only ever added, never renamed: the frontend is
generated from this schema.
"""

from __future__ import annotations

from typing import Any

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


class RunDetail(RunItem):
    git: dict[str, Any]
    environment: dict[str, Any]
    host: str | None = None
    steps: list[StepItem]


class DagNode(BaseModel):
    id: str
    status: str


class Dag(BaseModel):
    nodes: list[DagNode]
    edges: list[tuple[str, str]]


class StepLogs(BaseModel):
    run_id: str
    step: str
    logs: str
    traceback: str | None


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

"""What a metadata store offers beyond the run record: lineage, search, a model registry.

A separate capability from :class:`~flowy.kernel.contracts.MetadataStore` so that a
store which only records runs stays valid: :class:`flowy.tracking.client.Client` and
:mod:`flowy.tracking.models` check for :class:`Catalog` and say plainly when the
stack's store lacks it. The SQL store (flowy-store-sqlite) implements it.

Lineage is read from the edges ``record_step`` writes: each step run
*consumed* its input artifacts and *produced* its outputs. A cached step
produces no new artifact: its edges point at the artifact an earlier run
wrote, so that artifact has several producing step runs (the first real one
and each run that re-used it), and its ancestors are the union of their
inputs. Ancestry and descent stay exact inverses of each other.
"""

from __future__ import annotations

import abc
from typing import Any

import attrs

from flowy.kernel.records import ArtifactRef

#: The stage a freshly registered version has: none yet.
NO_STAGE = "none"
PRODUCTION = "production"
STAGING = "staging"
ARCHIVED = "archived"


@attrs.define
class ArtifactInfo:
    """An artifact with where it came from and what it is (for lists and lineage)."""

    artifact: ArtifactRef
    run_id: str
    step: str
    pipeline: str
    created_at: float
    asset_type: str = "artifact"
    asset_name: str | None = None
    tags: list[str] = attrs.field(factory=list)

    @property
    def artifact_id(self) -> str:
        return self.artifact.artifact_id


@attrs.define
class StepNode:
    """One step run in a lineage graph: the artifacts it consumed and produced."""

    run_id: str
    step: str
    inputs: dict[str, str] = attrs.field(factory=dict)
    """Input name -> artifact id."""
    outputs: dict[str, str] = attrs.field(factory=dict)
    """Output name -> artifact id."""


@attrs.define
class LineageGraph:
    """The ancestors and/or descendants of one artifact, with the step runs between them."""

    root: str
    artifacts: dict[str, ArtifactInfo]
    steps: list[StepNode]
    upstream: dict[str, int] = attrs.field(factory=dict)
    """Ancestor artifact id -> distance in steps from the root (1 = direct input)."""
    downstream: dict[str, int] = attrs.field(factory=dict)
    """Descendant artifact id -> distance in steps from the root."""


@attrs.define
class ArtifactUse:
    """A step run that produced or consumed an artifact."""

    run_id: str
    pipeline: str
    step: str
    direction: str
    """``produced`` or ``consumed``."""
    name: str
    started_at: float


@attrs.define
class ModelVersion:
    """One registered version of a model: which artifact, from which run, in which stage."""

    name: str
    version: int
    artifact_id: str
    run_id: str
    stage: str
    created_at: float
    created_by: str
    description: str = ""


@attrs.define
class StageChange:
    """One line of a model's history: a registration, promotion or rollback."""

    name: str
    version: int
    action: str
    from_stage: str | None
    to_stage: str
    user: str
    at: float


@attrs.define
class ModelSummary:
    """A registered model with its newest version and what holds each stage."""

    name: str
    created_at: float
    description: str
    latest_version: int
    stages: dict[str, int]
    """Stage -> version (stages other than none and archived)."""


class Catalog(abc.ABC):
    """Lineage, artifact search and the model registry over a metadata store."""

    # -- lineage and search --------------------------------------------------

    @abc.abstractmethod
    def artifact_info(self, artifact_id: str) -> ArtifactInfo:
        """An artifact (id or unique prefix) with its producer, type and tags."""

    @abc.abstractmethod
    def lineage(
        self, artifact_id: str, *, upstream: bool = True, downstream: bool = True
    ) -> LineageGraph:
        """Every ancestor and/or descendant of an artifact, transitively."""

    @abc.abstractmethod
    def artifact_uses(self, artifact_id: str) -> list[ArtifactUse]:
        """The step runs that produced or consumed an artifact, oldest first."""

    @abc.abstractmethod
    def run_artifacts(self, run_id: str) -> list[tuple[ArtifactUse, ArtifactInfo]]:
        """Every artifact a run consumed or produced (re-used ones included)."""

    @abc.abstractmethod
    def search_artifacts(
        self,
        *,
        name: str | None = None,
        asset_type: str | None = None,
        tag: str | None = None,
        pipeline: str | None = None,
        run_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[ArtifactInfo]:
        """Artifacts newest first; ``name`` matches the output name or the asset's name."""

    # -- model registry ------------------------------------------------------

    @abc.abstractmethod
    def register_model_version(
        self,
        name: str,
        artifact_id: str,
        *,
        user: str,
        description: str = "",
        run_id: str | None = None,
    ) -> ModelVersion:
        """Add the next version (1, 2, ...) of ``name``; numbers are unique and gapless.

        The version links to ``run_id``, by default the run that produced the artifact.
        """

    @abc.abstractmethod
    def list_models(self) -> list[ModelSummary]:
        """Every registered model, by name."""

    @abc.abstractmethod
    def model_versions(self, name: str) -> list[ModelVersion]:
        """The versions of a model, oldest first; ModelNotFoundError for an unknown name."""

    @abc.abstractmethod
    def get_model_version(
        self, name: str, version: int | None = None, stage: str | None = None
    ) -> ModelVersion:
        """A version by number, or the one in ``stage``, or the newest."""

    @abc.abstractmethod
    def set_model_stage(
        self, name: str, version: int, stage: str, *, user: str
    ) -> list[StageChange]:
        """Move a version to ``stage``, in one transaction; return the changes made.

        Every stage but ``archived`` and ``none`` is held by one version at a
        time: the version that held it is archived (recorded as ``displace``).
        """

    @abc.abstractmethod
    def rollback_model(self, name: str, *, user: str) -> list[StageChange]:
        """Return production to the version that held it before the current one."""

    @abc.abstractmethod
    def model_history(self, name: str) -> list[StageChange]:
        """Every stage change of a model, oldest first."""

    def describe_catalog(self) -> dict[str, Any]:
        """Facts for diagnostics (counts); optional."""
        return {}

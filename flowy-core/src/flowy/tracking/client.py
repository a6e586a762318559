"""A read API over a stack's metadata and artifacts, for the CLI, the web UI and notebooks.

``Client()`` opens the active stack's metadata store and artifact store (only
those two: no executor is built) and answers questions about what ran::

    with Client() as client:
        run = client.runs(pipeline="train", limit=1)[0]
        model = client.load(client.steps(run.run_id)[-1].outputs["model"])

Lookups by id accept a unique prefix (as ``git`` does). Loading goes through
the materializer that wrote the artifact and verifies its checksum, so a
corrupted file is a :class:`~flowy.kernel.errors.ChecksumMismatchError`, never wrong
data. The model registry is :attr:`Client.models`; :func:`load_model` loads a
registered model in one line.
"""

from __future__ import annotations

import contextlib
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs

from flowy.kernel.errors import ChecksumMismatchError, FlowyError, RunNotFoundError

if TYPE_CHECKING:
    from flowy.artifacts.resolution import MaterializerRegistry
    from flowy.kernel.cache_index import CacheIndex
    from flowy.kernel.catalog import ArtifactInfo, ArtifactUse, Catalog, LineageGraph
    from flowy.kernel.contracts import ArtifactStore, MetadataStore
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.kernel.records import ArtifactRef, MetricRecord, RunRecord, StepRunRecord
    from flowy.stacks.definitions import StackDefinition
    from flowy.stacks.resolution import CheckedComponent
    from flowy.tracking.models import ModelRegistry


class Client:
    """Read access to one stack's runs, steps, logs, metrics and artifacts."""

    def __init__(
        self,
        stack: str | None = None,
        project: Path | str | None = None,
        *,
        plugins: FlowyPlugins | None = None,
        check_index: bool = True,
    ) -> None:
        """``check_index=False`` opens a store whose index was lost (``flowy doctor``).

        Without ``project``, the current folder must be in a project (FLOWY_PROJECT
        or a ``.flowy/`` folder here or above): a reader never creates a store.
        """
        from flowy.kernel.config import require_project
        from flowy.stacks.resolution import active_stack_name

        self.project = Path(project).resolve() if project is not None else require_project()
        self.stack_name = stack or active_stack_name(self.project)
        self._plugins = plugins
        self._components: dict[str, Any] = {}
        self._check_index = check_index

    # -- plumbing ------------------------------------------------------------

    @property
    def plugins(self) -> FlowyPlugins:
        if self._plugins is None:
            from flowy.kernel.plugins import create_plugin_manager

            self._plugins = create_plugin_manager()
        return self._plugins

    @cached_property
    def definition(self) -> StackDefinition:
        from flowy.stacks.definitions import get_stack

        return get_stack(self.stack_name, self.plugins, self.project)

    def _checked(self, kind: str) -> CheckedComponent:
        """One component, checked alone: a reader never imports the executor's module."""
        from flowy.stacks.resolution import check_stack

        return check_stack(self.definition, self.plugins, self.project, kinds=(kind,))[kind]

    def _component(self, kind: str) -> Any:
        if kind not in self._components:
            checked = self._checked(kind)
            self._components[kind] = checked.build()
        return self._components[kind]

    @property
    def store(self) -> MetadataStore:
        """The stack's metadata store (opened on first use).

        On opening, runs whose orchestrating process died (SIGKILL, power loss)
        are marked ``crashed``, so nothing reads as ``running`` forever; and a
        store that lost its history while its artifacts remain is refused
        (:func:`flowy.artifacts.rebuild.check_index`).
        """
        fresh = "metadata_store" not in self._components
        store: MetadataStore = self._component("metadata_store")
        if fresh and self._check_index:
            from flowy.artifacts.rebuild import check_index

            try:
                check_index(store, self.artifact_store)
            except BaseException:
                del self._components["metadata_store"]  # asked again, it is checked again
                store.close()
                raise
        if fresh:
            with contextlib.suppress(Exception):  # a read-only store still answers reads
                store.mark_crashed_runs()
        return store

    @property
    def artifact_store(self) -> ArtifactStore:
        store: ArtifactStore = self._component("artifact_store")
        return store

    @cached_property
    def materializers(self) -> MaterializerRegistry:
        from flowy.artifacts.resolution import MaterializerRegistry

        return MaterializerRegistry(self.plugins.registry)

    def close(self) -> None:
        """Close what was opened (the metadata store's connections)."""
        for kind, component in self._components.items():
            if kind != "artifact_store" and hasattr(component, "close"):
                component.close()
        self._components.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- runs ----------------------------------------------------------------

    def runs(
        self, pipeline: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """Most recent runs first, optionally of one pipeline or with one status."""
        return self.store.list_runs(pipeline=pipeline, status=status, limit=limit)

    def run(self, run_id: str) -> RunRecord:
        """One run by id or unique prefix; RunNotFoundError otherwise."""
        return self.store.get_run(run_id)

    def steps(self, run_id: str) -> list[StepRunRecord]:
        """The step runs of a run, in the order they were recorded."""
        return self.store.get_step_runs(self.run(run_id).run_id)

    def step(self, run_id: str, step: str) -> StepRunRecord:
        steps = self.steps(run_id)
        for record in steps:
            if record.step == step:
                return record
        names = ", ".join(s.step for s in steps) or "none"
        raise RunNotFoundError(f"Run {run_id} has no step {step!r}. Its steps: {names}.")

    def logs(self, run_id: str, step: str | None = None) -> dict[str, str]:
        """Captured stdout, stderr and log records by step (one step when named)."""
        run = self.run(run_id)
        if step is not None:
            self.step(run.run_id, step)  # a clear error for an unknown step
        return self.store.get_logs(run.run_id, step)

    def metrics(self, run_id: str) -> list[tuple[str, MetricRecord]]:
        """(step, metric) pairs logged during a run."""
        return self.store.get_metrics(self.run(run_id).run_id)

    # -- artifacts -----------------------------------------------------------

    def artifacts(
        self, run_id: str | None = None, name: str | None = None, limit: int = 100
    ) -> list[ArtifactRef]:
        """Artifacts, newest first, optionally of one run or with one name."""
        if run_id is not None:
            run_id = self.run(run_id).run_id
        return self.store.list_artifacts(run_id=run_id, name=name, limit=limit)

    def artifact(self, artifact_id: str) -> ArtifactRef:
        """An artifact's record by id or unique prefix."""
        return self.store.get_artifact(artifact_id)

    def outputs(self, run_id: str) -> dict[str, ArtifactRef]:
        """A run's outputs by name (produced or re-used from the cache)."""
        result: dict[str, ArtifactRef] = {}
        for record in self.steps(run_id):
            for name, artifact_id in record.outputs.items():
                result[name] = attrs.evolve(self.artifact(artifact_id), name=name)
        return result

    def load(self, artifact: str | ArtifactRef, *, allow_pickle: bool | None = None) -> Any:
        """Load an artifact (by id, prefix or record) through its materializer, verified."""
        from flowy.artifacts.collection import Collection, load_elements
        from flowy.artifacts.store_io import read_artifact, verify_artifact
        from flowy.kernel.config import load_settings

        ref = self.artifact(artifact) if isinstance(artifact, str) else artifact
        if allow_pickle is None:
            allow_pickle = bool(load_settings(self.project).get("allow_pickle"))
        try:
            with self.materializers.guard(ref.materializer):  # a missing framework: its plugin
                value = read_artifact(
                    self.artifact_store, ref, self.materializers, allow_pickle=allow_pickle
                )
            if isinstance(value, Collection):  # a list stored element by element (a map's)
                return load_elements(
                    value, self.artifact_store, self.materializers, allow_pickle=allow_pickle
                )
            return value
        except FlowyError:
            raise
        except Exception as exc:
            # A materializer may choke on damaged bytes before the checksum is checked
            # at the end of the read: report the damage, not the parser's complaint.
            if not verify_artifact(self.artifact_store, ref):
                raise ChecksumMismatchError(
                    f"Artifact {ref.artifact_id} ({ref.uri}) is missing or corrupted: its bytes "
                    "no longer match the checksum recorded when it was written, so the "
                    f"{ref.materializer} materializer could not read it ({type(exc).__name__}: "
                    f"{exc}). Re-run the step that produced it (`flowy run ... --no-cache`)."
                ) from exc
            raise

    # -- lineage, search and models (the store's flowy.kernel.catalog.Catalog) -------

    @property
    def catalog(self) -> Catalog:
        """The store's lineage and registry capability; a clear error if it has none."""
        from flowy.tracking.models import catalog_of

        return catalog_of(self.store)

    def lineage(
        self, artifact_id: str, *, upstream: bool = True, downstream: bool = True
    ) -> LineageGraph:
        """Ancestors and/or descendants of an artifact, transitively, with the steps between."""
        return self.catalog.lineage(artifact_id, upstream=upstream, downstream=downstream)

    def artifact_info(self, artifact_id: str) -> ArtifactInfo:
        """An artifact with its producing run and step, asset type and tags."""
        return self.catalog.artifact_info(artifact_id)

    def artifact_uses(self, artifact_id: str) -> list[ArtifactUse]:
        """Every step run that produced or consumed an artifact (runs that used it)."""
        return self.catalog.artifact_uses(artifact_id)

    def run_artifacts(self, run_id: str) -> list[tuple[ArtifactUse, ArtifactInfo]]:
        """Every artifact a run consumed or produced, re-used ones included."""
        return self.catalog.run_artifacts(run_id)

    def search_artifacts(self, **filters: Any) -> list[ArtifactInfo]:
        """Artifacts by ``name``, ``asset_type``, ``tag``, ``pipeline``, ``run_id``,
        ``since``/``until`` (POSIX times) and ``limit``, newest first."""
        if filters.get("run_id") is not None:
            filters["run_id"] = self.run(filters["run_id"]).run_id
        return self.catalog.search_artifacts(**filters)

    @cached_property
    def models(self) -> ModelRegistry:
        """The model registry: register, promote, rollback, compare, load."""
        from flowy.tracking.models import ModelRegistry

        return ModelRegistry(self)

    # -- cache ---------------------------------------------------------------

    def cache_indexes(self) -> list[CacheIndex]:
        """The store's own cache, then the stack's shared ``cache_index`` if it names one."""
        from flowy.kernel.cache_index import StoreCacheIndex

        found: list[CacheIndex] = [StoreCacheIndex(self.store)]
        if "cache_index" in self.definition.components:
            found.append(self._component("cache_index"))
        return found

    def cache_stats(self) -> dict[str, Any]:
        return self.store.cache_stats()

    def clear_cache(self, pipeline: str | None = None, step: str | None = None) -> int:
        """Delete cache entries (artifacts stay, so past runs remain loadable)."""
        return self.store.delete_cache(pipeline=pipeline, step=step)


def load_model(
    name: str,
    *,
    stage: str | None = "production",  # flowy.kernel.catalog.PRODUCTION, not imported here
    version: int | None = None,
    stack: str | None = None,
) -> Any:
    """Load a registered model by name and stage (or version) from a stack's store.

    One line for a notebook or a serving script: opens a :class:`Client` on ``stack``
    (the active one by default), loads through :attr:`Client.models`, and closes it.
    It lives here, not in :mod:`flowy.tracking.models`, because it opens a client:
    the registry module must not import the client that imports it.
    """
    with Client(stack=stack) as client:
        return client.models.load(name, stage=stage, version=version)

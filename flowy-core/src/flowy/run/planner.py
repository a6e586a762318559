"""What a run would do with each step: skip it, serve it from the cache, or run it.

:class:`RunPlanner` holds the part of a run's state that decides, step by step,
without executing or recording anything: the task a step would get, why it
would be skipped, its cache key and whether a cache entry serves it. The
engine (:class:`flowy.run.execution.RunExecution`) extends it to execute and
record; ``flowy cache explain`` (:mod:`flowy.run.explain`) uses it alone, so the
explanation follows the very rules a run follows.
"""

from __future__ import annotations

import functools
import os
import socket
import time
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowy.artifacts.store_io import verify_artifact
from flowy.kernel import records as R
from flowy.kernel.contracts import UncacheableError
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import ArtifactRef, CacheEntry, RunRecord, StepTask
from flowy.run.branching import branch_reason, defaults_cover
from flowy.run.caching import InputHash, code_hash, combine

if TYPE_CHECKING:
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.run.context import Context
    from flowy.run.graph import PipelineGraph
    from flowy.run.steps import Step
    from flowy.stacks.resolution import ResolvedStack


class CacheWarning(UserWarning):
    """A step ran uncached because part of its key could not be computed."""


@attrs.frozen
class Selection:
    """The steps a partial run runs, and the words that say why the others do not.

    Made by :func:`flowy.run.selection.select`; the planner skips every other step.
    """

    steps: frozenset[str]
    label: str
    """How the selection was asked for, e.g. ``--only fit`` or ``--from a --to c``."""


class RunPlanner:
    """The state of a run that decides what happens to each step (nothing is executed).

    It holds the run's identity (``run_id`` and the :class:`~flowy.kernel.records.RunRecord`
    that every task and record names). ``status`` and ``outputs`` grow as steps
    are settled, by a run or by an explanation: a step's task reads its inputs
    from ``outputs``, and whether it is skipped depends on its upstream steps'
    ``status``.
    """

    def __init__(
        self,
        pipeline: PipelineGraph,
        stack: ResolvedStack,
        plugins: FlowyPlugins,
        context: Context,
        *,
        no_cache: bool,
        allow_pickle: bool,
        project: Path,
        run_id: str | None = None,
        experiment: str | None = None,
    ) -> None:
        from flowy.artifacts.resolution import MaterializerRegistry
        from flowy.run.shared_cache import SharedCache
        from flowy.run.worker import WorkerRuntime

        self.pipeline = pipeline
        self.stack = stack
        self.plugins = plugins
        self.store = stack.metadata_store
        self.context = context
        self.no_cache = no_cache
        #: Newest cache entries by step, read on the first cache lookup (see cache_hit).
        self.prefetched: dict[str, tuple[CacheEntry, dict[str, ArtifactRef]]] | None = None
        #: The stack's shared cache index, asked when the store's cache misses.
        self.shared_cache = SharedCache(stack.components.get("cache_index"), self.store)
        self.allow_pickle = allow_pickle
        self.project = project
        self.materializers = MaterializerRegistry(plugins.registry)
        self.runtime = WorkerRuntime(stack.artifact_store, self.materializers)
        self.store_spec = stack.artifact_store_spec()
        self.strategy_objs: dict[str, Any] = {}
        self.run_id = run_id or uuid.uuid4().hex
        self.status: dict[str, str] = {}
        """Step -> how it was settled (``completed``, ``cached``, ``skipped``, ...)."""
        self.outputs: dict[str, ArtifactRef] = {}
        """Output name -> the artifact a settled step made or re-used."""
        self.selection: Selection | None = None
        """A partial run's steps (see :mod:`flowy.run.selection`); None runs every step."""
        self.provided: set[str] = set()
        """Unselected steps whose outputs a partial run found (cache or an earlier run)."""
        self.run = RunRecord(
            run_id=self.run_id,
            pipeline=pipeline.name,
            status=R.RUNNING,
            params=jsonable(self.context.to_dict()),
            stack=stack.record(),
            started_at=time.time(),
            experiment=experiment or pipeline.experiment or pipeline.name,
            pid=os.getpid(),
            host=socket.gethostname(),
        )
        """The run's record: what it is filed as (``experiment``: else the pipeline's)."""

    def task_for(self, step: Step, *, pending: str | None = None) -> StepTask:
        """``step``'s task from the run's outputs so far; ``pending``: an input not known
        yet (a chained map's, filled in per element), left out."""
        inputs = {
            name: self.outputs[name]
            for name in self.pipeline.inputs[step.name]
            if name != pending and (name in self.outputs or not step.has_default(name))
        }  # an input left out by a branch: the step's default (see skip_reason)
        params = {p: self.context[p] for p in self.pipeline.params[step.name] if p in self.context}
        return StepTask(
            run_id=self.run_id,
            pipeline=self.pipeline.name,
            step=step.name,
            step_ref=step.ref,
            # Always: an uncached step's record needs it too, so --resume can check its code.
            code_hash=code_hash(step.fn),
            params=params,
            inputs=inputs,
            outputs=list(step.outputs),
            artifact_store=self.store_spec,
            retries=step.retries,
            retry_backoff=step.retry_backoff,
            retry_on=[f"{t.__module__}.{t.__qualname__}" for t in step.retry_on],
            timeout=step.timeout,
            resources=step.resources,
            allow_pickle=step.allow_pickle or self.allow_pickle,
            split=[o for o in step.outputs if o in self.mapped_over],
        )

    @functools.cached_property
    def mapped_over(self) -> frozenset[str]:
        """Outputs some step maps over (``@step(map=...)``): stored element by element."""
        return frozenset(s.map for s in self.pipeline.steps.values() if s.map is not None)

    def skip_reason(self, step: Step) -> str | None:
        if self.selection is not None and step.name not in self.selection.steps:
            return f"not selected ({self.selection.label})"
        for upstream in self.pipeline.upstream(step.name):
            if upstream in self.provided or self.status.get(upstream) in (R.COMPLETED, R.CACHED):
                continue
            if upstream in self.inactive:  # left out by a branch or `when`
                if defaults_cover(self.pipeline, step, upstream):
                    continue  # a join: what it takes from there has defaults
                self.inactive.add(step.name)
            return f"upstream step {upstream!r} {self.status.get(upstream, 'did not run')}"
        if step.when is not None and not step.when(self.context):
            self.inactive.add(step.name)
            return "its `when` condition is false"
        reason = branch_reason(step, self.output_value)
        if reason is not None:
            self.inactive.add(step.name)
        return reason

    def output_value(self, output: str) -> Any:
        """The value of an output this run settled (read through its materializer)."""
        from flowy.artifacts.store_io import read_artifact

        return read_artifact(self.runtime.artifact_store, self.outputs[output], self.materializers)

    @functools.cached_property
    def inactive(self) -> set[str]:
        """Steps left out by a branch or a false ``when``, and those only they fed: a step
        taking their outputs as inputs with defaults runs with the defaults."""
        return set()

    def cache_parts(self, step: Step, task: StepTask) -> dict[str, str] | None:
        if not step.cache or self.no_cache:
            return None
        parts: dict[str, str] = {}
        for name in step.cache:
            if name not in self.strategy_objs:
                registration = self.plugins.registry.get("cache", name)
                self.strategy_objs[name] = registration.load()()
            try:
                parts[name] = self.strategy_objs[name].key_part(step, task)
            except UncacheableError as exc:
                warnings.warn(
                    f"Step {step.name!r} runs uncached: {exc.what} cannot be hashed "
                    f"({exc.reason}). Pass a hashable value or set @step(cache=False).",
                    CacheWarning,
                    stacklevel=2,
                )
                return None
        return parts

    def step_key(self, step: Step, task: StepTask, parts: dict[str, str] | None) -> str | None:
        """The key of what ``step`` computes now: its code, inputs and parameters.

        The cache key when the step is cached; for a step that runs uncached
        (``cache=False``, ``--no-cache``) the default one (``code_hash`` and
        ``input_hash``), recorded so that ``--resume`` can tell whether an
        earlier run's outputs are still what this run would compute. None when
        a value cannot be hashed: such a step is never re-used.
        """
        if parts is None:
            try:
                parts = {
                    "code_hash": task.code_hash or code_hash(step.fn),
                    "input_hash": InputHash().key_part(step, task),
                }
            except UncacheableError:
                return None
        if task.split:  # stored element by element: not interchangeable with a whole list
            parts = {**parts, "split": ",".join(task.split)}
        # An element of a map is keyed by its step's name, not its position: the same
        # element anywhere in the list is the same work.
        base = item[0] if (item := getattr(step, "item_of", None)) is not None else step.name
        return combine(base, step.outputs, parts)

    def cache_hit(self, step: Step, key: str) -> tuple[CacheEntry, dict[str, ArtifactRef]] | None:
        found = self.prefetch().pop(step.name, None)
        if found is None or found[0].key != key:
            found = self.store.lookup_cache_outputs(key)
        if found is None:
            found = self.shared_cache.lookup(key)  # None at once without a cache_index
        if found is None:
            return None
        entry, stored = found
        refs: dict[str, ArtifactRef] = {}
        for name, ref in stored.items():
            if not self.readable(ref):
                return None
            refs[name] = ref if ref.name == name else attrs.evolve(ref, name=name)
        if not provides(step, refs):
            return None
        return entry, refs

    def prefetch(self) -> dict[str, tuple[CacheEntry, dict[str, ArtifactRef]]]:
        """The newest cache entry of every cacheable step, read in one query on first use."""
        if self.prefetched is None:
            cacheable = [s.name for s in self.pipeline.steps.values() if s.cache]
            self.prefetched = self.store.latest_cache_outputs(self.pipeline.name, cacheable)
        return self.prefetched

    def readable(self, ref: ArtifactRef) -> bool:
        """Whether a stored artifact can be used as it was written.

        Its materializer must be installed at the version that wrote it, and the
        stored file must match its checksum: what a cache hit and a partial run's
        earlier outputs must both pass before a step reads them.
        """
        try:
            current = self.materializers.by_name(ref.materializer).version
        except FlowyError:
            return False
        if str(current) != ref.materializer_version:
            return False
        return verify_artifact(self.runtime.artifact_store, ref)


def provides(step: Step, refs: Mapping[str, ArtifactRef]) -> bool:
    """Whether ``refs`` (a cache entry's or an earlier run's) are exactly ``step``'s outputs.

    Elements of outputs stored element by element (``items[3]``) come with their
    collection and are not outputs of their own.
    """
    from flowy.artifacts.collection import element_of

    return {n for n in refs if element_of(n) is None} == set(step.outputs)


def output_of(name: str, declared: list[str]) -> bool:
    """Whether a recorded output ``name`` is one of ``declared`` or an element of one
    (``items[3]``), not a file the step logged."""
    from flowy.artifacts.collection import element_of

    element = element_of(name)
    return name in declared or (element is not None and element[0] in declared)


def jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with each value JSON cannot write replaced by its ``repr``."""
    import json

    out: dict[str, Any] = {}
    for k, v in values.items():
        try:
            json.dumps(v)
            out[k] = v
        except (TypeError, ValueError):
            out[k] = repr(v)
    return out

"""Running a pipeline: :func:`run_pipeline` and the :class:`RunResult` it returns.

``run_pipeline`` (and ``Pipeline.run``, which calls it) resolves the stack,
starts the run's record with its git and environment facts, offers an earlier
run's steps for ``--resume`` and a partial run's unselected outputs, and hands
the run to :class:`~flowy.run.execution.RunExecution`, which walks the DAG
(planning in :mod:`flowy.run.planner`, recording in :mod:`flowy.run.recording`).

This module names pipelines by :class:`~flowy.run.graph.PipelineGraph`, never by
the ``Pipeline`` class, so that ``Pipeline.run`` can call it without a cycle.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowy import alerts
from flowy.artifacts.store_io import read_artifact
from flowy.kernel import records as R
from flowy.kernel.records import ArtifactRef, StepRunRecord
from flowy.run import code_digests
from flowy.run.execution import RunExecution

if TYPE_CHECKING:
    from flowy.artifacts.resolution import MaterializerRegistry
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.run.graph import PipelineGraph


@attrs.define(repr=False)
class RunResult:
    """What ``pipeline.run()`` returns: status, step records, and outputs by name.

    Its repr is one short line (run id, pipeline, status, step counts): the step
    records, with their logs and tracebacks, would make it thousands of characters.
    """

    run_id: str
    """The run's id (``flowy runs show RUN_ID``)."""
    pipeline: str
    """The pipeline's name."""
    status: str
    """How the run ended: ``completed``, ``failed`` or ``cancelled`` (see :attr:`ok`)."""
    steps: dict[str, StepRunRecord]
    """Step name -> its record (status, times, attempts, error, logs)."""
    artifacts: dict[str, ArtifactRef]
    """Output name -> the artifact written or re-used; ``result[name]`` loads it."""
    _store: Any = attrs.field(repr=False)
    _materializers: MaterializerRegistry = attrs.field(repr=False)
    _allow_pickle: bool = attrs.field(default=False, repr=False)
    started_at: float = 0.0
    """When the run started (the run record's time, as ``flowy runs list`` shows it)."""
    finished_at: float | None = None
    """When the run ended (the run record's time)."""

    @property
    def duration(self) -> float | None:
        """Seconds from the run's start to its end, from the run record (None if unknown).

        The one duration of a run: `flowy run`'s summary and `flowy runs list` both show it.
        """
        if not self.started_at or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for record in self.steps.values():
            counts[record.status] = counts.get(record.status, 0) + 1
        states = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        return (
            f"<RunResult {self.run_id} pipeline={self.pipeline!r} status={self.status!r} "
            f"steps={len(self.steps)} ({states or 'none'}) outputs={len(self.artifacts)}>"
        )

    def __getitem__(self, output: str) -> Any:
        """Load an output by name through the materializer that wrote it."""
        if output not in self.artifacts:
            raise KeyError(
                f"Run {self.run_id} has no output {output!r}; outputs: "
                f"{', '.join(sorted(self.artifacts)) or 'none'}"
            )
        value = read_artifact(
            self._store,
            self.artifacts[output],
            self._materializers,
            allow_pickle=self._allow_pickle,
        )
        from flowy.artifacts.collection import Collection, load_elements

        if isinstance(value, Collection):  # a list stored element by element (a map's)
            return load_elements(
                value, self._store, self._materializers, allow_pickle=self._allow_pickle
            )
        return value

    @property
    def ok(self) -> bool:
        return self.status == R.COMPLETED


def run_pipeline(
    pipeline: PipelineGraph,
    stack: str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    no_cache: bool = False,
    plugins: FlowyPlugins | None = None,
    project: Path | None = None,
    executor_options: Mapping[str, Any] | None = None,
    resume: str | None = None,
    experiment: str | None = None,
    only: Iterable[str] | str | None = None,
    from_step: str | None = None,
    to_step: str | None = None,
) -> RunResult:
    """Run ``pipeline`` on a stack (default: the active one) and record everything.

    ``resume`` names an earlier run (crashed, failed or cancelled) whose
    completed steps are re-used instead of run again. ``experiment`` files the
    run under that experiment instead of the pipeline's (its ``experiment=``,
    else its name). ``only``, ``from_step`` and ``to_step`` run part of the
    pipeline (see :func:`flowy.run.selection.select`); the steps they leave out
    are recorded as skipped and their outputs come from the cache or the
    latest run that completed them.
    """
    from flowy.kernel.config import load_settings, project_root
    from flowy.kernel.plugins import create_plugin_manager
    from flowy.run.facts import GitFactsReader, environment_facts
    from flowy.run.selection import provide_unselected, select
    from flowy.stacks.resolution import resolve_stack

    selection = select(pipeline, only, from_step, to_step)
    context = pipeline.context_for(params or {})
    pipeline.check_params(context)
    if experiment is not None:
        from flowy.kernel import names

        names.check(names.EXPERIMENT, experiment)
    project = project or project_root()
    git = GitFactsReader(project)  # git works while the stack's modules are imported
    try:
        plugins = plugins or create_plugin_manager()
        settings = load_settings(project)
        resolved = resolve_stack(stack, plugins, project, executor_options=executor_options)
    except BaseException:
        git.close()
        raise
    trackers = [c for k, c in resolved.components.items() if k == "tracker"]
    try:
        run = RunExecution(
            pipeline,
            resolved,
            plugins,
            context,
            no_cache=no_cache,
            allow_pickle=bool(settings.get("allow_pickle")),
            project=project,
            experiment=experiment,
        )
        if resume:
            run.resume_from(resume)
        if selection is not None:
            provide_unselected(run, selection)
        run.run.git = git.result()
        run.run.environment = environment_facts()
        plugins.warn_failed()
        for i, tracker in enumerate(trackers):
            plugins.register_tracker(
                tracker, f"tracker-{run.run_id}-{i}", resolved.checked.get("tracker")
            )
        run.store.create_run(run.run)
        status = R.FAILED
        try:
            status = run.execute()
        finally:
            finished = time.time()
            run.run.status = status
            run.run.finished_at = finished
            run.store.finish_run(run.run_id, status, finished)
            run.notify("flowy_pipeline_finished", run=run.run, status=status)
            alerts.evaluate_run_end(run.store, run.run, run.records, project, plugins)
            for i in range(len(trackers)):
                plugins.unregister_tracker(f"tracker-{run.run_id}-{i}")
        if status == R.CANCELLED:
            raise KeyboardInterrupt
        return RunResult(
            run.run_id,
            pipeline.name,
            status,
            run.records,
            dict(run.outputs),
            resolved.artifact_store,
            run.materializers,
            run.allow_pickle,
            started_at=run.run.started_at,
            finished_at=run.run.finished_at,
        )
    finally:
        git.close()
        resolved.close()
        code_digests.save()  # what code_hash learnt, for the next process

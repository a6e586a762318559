"""Parameter sweeps: one run per combination, under one experiment, sharing upstream steps.

:func:`sweep` (and ``Pipeline.sweep``, ``flowy run --sweep``) turns a spec
(:mod:`flowy.run.sweep_spec`) into combinations, checks every one against the
pipeline before anything runs, and runs them:

1. The first combination runs alone until every *shared* step (one that does
   not depend, even through its inputs, on a swept parameter) has settled.
2. The others then start, ``parallel`` at a time, in forked worker processes
   (:mod:`flowy.run.sweep_pool`); the shared steps' outputs are in the cache by
   then, so each is computed once for the whole sweep and the other runs record
   it ``cached``.

Every run is filed under one experiment (``experiment``, else the pipeline's)
and records the sweep's id as the run parameter ``flowy_sweep``, so the runs of
one sweep can be told apart from other runs of the experiment
(``flowy experiment compare``, ``flowy experiment best`` rank them as any runs).
"""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowy.kernel import records as R
from flowy.kernel.errors import ParameterError
from flowy.run import sweep_spec
from flowy.run.sweep_pool import DONE, SHARED, Event, SharedWatch, WorkerPool, can_fork
from flowy.run.sweep_spec import SWEEP_PARAM, Sweepable, SweepSpec

if TYPE_CHECKING:
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.kernel.records import StepRunRecord
    from flowy.run.engine import RunResult


@attrs.define
class SweepRun:
    """One combination of a sweep: its swept values and how its run went."""

    index: int
    """Its place in the sweep (0 is the run that computes the shared steps)."""
    values: dict[str, Any]
    """The swept parameters' values (coerced as the run got them)."""
    run_id: str | None = None
    """Its run's id; None if it failed before its run started."""
    status: str = "pending"
    """``pending``, ``running``, then how its run ended (``completed``, ``failed``...)."""
    error: str | None = None
    """Why it failed, when it failed before (or outside) its run's steps."""
    result: RunResult | None = None
    """The run's :class:`~flowy.run.RunResult` (steps, outputs) once it ended."""
    metrics: dict[str, float] = attrs.field(factory=dict)
    """The last value of each metric its steps logged."""

    @property
    def ok(self) -> bool:
        return self.status == R.COMPLETED


@attrs.define
class SweepResult:
    """What ``pipeline.sweep()`` returns: the sweep's id, experiment and each combination's run."""

    sweep_id: str
    """Recorded in every run's params as ``flowy_sweep``."""
    experiment: str
    """The experiment every run of the sweep is filed under."""
    runs: list[SweepRun]
    """One per combination, in sweep order."""
    seed: int | None = None
    """The seed random draws used (pass it again to draw the same combinations)."""

    @property
    def ok(self) -> bool:
        """Whether every run completed."""
        return all(r.ok for r in self.runs)

    @property
    def failed(self) -> list[SweepRun]:
        return [r for r in self.runs if not r.ok]

    def best(self, metric: str, mode: str = "max") -> SweepRun:
        """The completed run with the highest (``mode="min"``: lowest) ``metric``."""
        have = [r for r in self.runs if r.ok and metric in r.metrics]
        if not have:
            raise KeyError(f"No completed run of sweep {self.sweep_id} logged metric {metric!r}")
        pick = max if mode == "max" else min
        return pick(have, key=lambda r: r.metrics[metric])

    def __iter__(self) -> Iterator[SweepRun]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __repr__(self) -> str:
        states: dict[str, int] = {}
        for r in self.runs:
            states[r.status] = states.get(r.status, 0) + 1
        shown = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        return (
            f"<SweepResult {self.sweep_id} experiment={self.experiment!r} "
            f"runs={len(self)} ({shown})>"
        )


def shared_steps(pipeline: Sweepable, swept: Sequence[str]) -> set[str]:
    """Steps that depend on no swept parameter, directly or through an upstream step."""
    dependent: set[str] = set()
    for name in pipeline.order:  # upstream steps come first
        if set(pipeline.params[name]) & set(swept) or set(pipeline.upstream_of[name]) & dependent:
            dependent.add(name)
    return set(pipeline.order) - dependent


def default_parallel() -> int:
    """How many runs at once by default: one per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def sweep(
    pipeline: Sweepable,
    spec: SweepSpec,
    *,
    params: Mapping[str, Any] | None = None,
    from_text: bool = False,
    fixed_from_cli: Sequence[str] = (),
    parallel: int | None = None,
    stack: str | None = None,
    experiment: str | None = None,
    no_cache: bool = False,
    project: Path | None = None,
    plugins: Callable[[], FlowyPlugins] | None = None,
    executor_options: Mapping[str, Any] | None = None,
    on_event: Callable[[SweepRun, Event], None] | None = None,
) -> SweepResult:
    """Run one combination of ``spec`` per run (see the module); checks everything first.

    ``params`` are fixed values every run gets; ``plugins`` makes the plugin manager
    every run uses (default: the installed plugins); ``on_event`` hears each
    run start, settle its shared steps and end (in this process).
    """
    from flowy.kernel import names
    from flowy.kernel.config import project_root
    from flowy.kernel.plugins import create_plugin_manager

    if parallel is not None and parallel < 1:
        raise ParameterError(f"parallel must be at least 1 (got {parallel}).")
    combos = sweep_spec.resolve(
        pipeline, spec, dict(params or {}), from_text=from_text, fixed_from_cli=fixed_from_cli
    )
    experiment = experiment or pipeline.experiment or pipeline.name
    names.check(names.EXPERIMENT, experiment)
    swept = spec.names
    runs = [SweepRun(i, {k: c[k] for k in swept}) for i, c in enumerate(combos)]
    # "sw" first: an id of digits (or "1e5...") would read as a number in a run filter
    result = SweepResult("sw" + uuid.uuid4().hex[:10], experiment, runs, spec.seed)
    project = project or project_root()
    # One manager for every run: made here, copied into each forked worker (building one
    # costs ~25 ms, a third of a trivial run); each run's watch is taken off after it.
    manager = (plugins or create_plugin_manager)()
    _check_stack(stack, manager, project, executor_options)
    shared = set() if no_cache else shared_steps(pipeline, swept)
    marked = copy.copy(pipeline)  # the runs record the sweep's id; the caller's pipeline is kept
    setattr(marked, "context", pipeline.context.child(**{SWEEP_PARAM: result.sweep_id}))  # noqa: B010 - a read-only property of the protocol

    def run_one(index: int, values: Mapping[str, Any], report: Callable[[Event], None]) -> Event:
        from flowy.run.engine import run_pipeline

        watch = SharedWatch(index, shared, report)
        name = f"flowy-sweep-{result.sweep_id}-{index}"
        manager.register(watch, name, "flowy-core")  # a manager may be shared: taken off after
        try:
            done = run_pipeline(
                marked,
                stack=stack,
                params=values,
                no_cache=no_cache,
                plugins=manager,
                project=project,
                executor_options=executor_options,
                experiment=experiment,
            )
        finally:
            manager.pm.unregister(name=name)
        return Event(DONE, index, done.run_id, done.status)

    def heard(event: Event) -> None:
        run = runs[event.index]
        if event.run_id:
            run.run_id = event.run_id
        if event.kind == DONE:
            run.status = event.status or R.FAILED
            run.error = event.error
        elif event.kind != SHARED:
            run.status = R.RUNNING
        if on_event is not None:
            on_event(run, event)

    size = min(parallel or default_parallel(), len(combos))
    try:
        if size <= 1 or not can_fork():
            for i, values in enumerate(combos):
                heard(_guarded(run_one, i, values, heard))
        else:
            _parallel(combos, size, run_one, heard, gate=bool(shared))
    finally:
        _collect(result, marked, stack, manager, project)
    return result


def _guarded(run_one: Any, index: int, values: Mapping[str, Any], report: Any) -> Event:
    """``run_one`` in this process; an error before its run started fails only this run."""
    import traceback

    try:
        event: Event = run_one(index, values, report)
        return event
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - reported as this combination's failure
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return Event(DONE, index, None, R.FAILED, error)


def _parallel(
    combos: list[dict[str, Any]],
    size: int,
    run_one: Any,
    heard: Callable[[Event], None],
    *,
    gate: bool,
) -> None:
    """Run the first combination, then (its shared steps settled) the rest, ``size`` at once."""
    pool = WorkerPool(size, run_one)
    waiting = list(range(1, len(combos)))
    left = len(combos)
    opened = not gate
    pool.give(0, 0, combos[0])
    try:
        while left:
            for slot in pool.idle() if opened else ():
                if not waiting:
                    break
                index = waiting.pop(0)
                pool.give(slot, index, combos[index])
            if not pool.idle() and not pool.busy:  # every worker died
                for index in waiting:
                    heard(Event(DONE, index, None, R.FAILED, "no sweep worker left to run it"))
                return
            for event in pool.events():
                if event.index == 0 and event.kind in (SHARED, DONE):
                    opened = True
                if event.kind == DONE:
                    left -= 1
                heard(event)
    except KeyboardInterrupt:
        pool.close(cancel=True)
        raise
    pool.close()


def _check_stack(
    stack: str | None, plugins: FlowyPlugins, project: Path, options: Mapping[str, Any] | None
) -> None:
    """Resolve the stack once here: a bad stack fails before any run, and the workers forked
    afterwards start with the stores' modules already imported."""
    from flowy.stacks.resolution import resolve_stack

    resolve_stack(stack, plugins, project, executor_options=options).close()


def _collect(
    result: SweepResult,
    pipeline: Sweepable,
    stack: str | None,
    plugins: FlowyPlugins,
    project: Path,
) -> None:
    """Each ended run's RunResult and metrics, read back from the metadata store."""
    import attrs as attrs_mod

    from flowy.artifacts.resolution import MaterializerRegistry
    from flowy.kernel.config import load_settings
    from flowy.run.engine import RunResult
    from flowy.stacks.resolution import resolve_stack

    ended = [r for r in result.runs if r.run_id is not None]
    if not ended:
        return
    resolved = resolve_stack(stack, plugins, project)
    try:
        store = resolved.metadata_store
        materializers = MaterializerRegistry(plugins.registry)
        allow_pickle = bool(load_settings(project).get("allow_pickle"))
        for run in ended:
            assert run.run_id is not None
            record = store.get_run(run.run_id)
            steps = {rec.step: rec for rec in store.get_step_runs(run.run_id)}
            artifacts = {}
            for name, rec in steps.items():
                declared = pipeline.steps[name].outputs if name in pipeline.steps else []
                for output, artifact_id in rec.outputs.items():
                    if output in declared:
                        ref = store.get_artifact(artifact_id)
                        artifacts[output] = attrs_mod.evolve(ref, name=output)
            if run.status in ("pending", R.RUNNING):
                run.status = record.status
            run.result = RunResult(
                run.run_id, pipeline.name, record.status, steps, artifacts,
                resolved.artifact_store, materializers, allow_pickle,
                started_at=record.started_at, finished_at=record.finished_at,
            )  # fmt: skip
            run.metrics = _metrics(store, run.run_id, steps.values())
    finally:
        resolved.close()


def _metrics(store: Any, run_id: str, steps: Iterable[StepRunRecord]) -> dict[str, float]:
    """The last value of each metric of a run; a cached step's come from the run that
    computed it (as ``flowy experiment`` shows them), where the store can say which."""
    values: dict[str, float] = {}
    cached = [a for rec in steps if rec.status == R.CACHED for a in rec.outputs.values()]
    producers = getattr(store, "artifact_producers", None)
    if cached and producers is not None:
        sources: dict[str, set[str]] = {}
        for source_run, step in producers(cached).values():
            sources.setdefault(source_run, set()).add(step)
        for source_run, from_steps in sorted(sources.items()):
            for step, metric in _in_order(store.get_metrics(source_run)):
                if step in from_steps:
                    values[metric.name] = metric.value
    for _, metric in _in_order(store.get_metrics(run_id)):
        values[metric.name] = metric.value
    return values


def _in_order(metrics: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return sorted(metrics, key=lambda m: (m[1].timestamp, m[1].step or 0))

"""The run engine: resolve the stack, walk the DAG, cache, execute, record.

The engine is the single writer of a run's metadata. It decides, step by
step as each becomes ready, whether the step is skipped (its ``when`` is false
or an upstream step did not produce its outputs), satisfied from the cache, or
handed to the executor as a :class:`~flowy.kernel.records.StepTask`. Each result is
recorded in one metadata transaction, then observers hear of it through the
lifecycle hooks.

Cached steps are settled here, synchronously, and nothing new comes with them
(their outputs already exist), so their records are buffered and written in
one batch (:meth:`~flowy.kernel.contracts.MetadataStore.record_steps`) before any
other step is recorded or handed to the executor, before the engine waits for
a running step, and when the run ends, however it ends. A process killed in
between loses at most those cached-step records, never a completed step's
work: a resumed or repeated run finds the same cache entries again.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
import warnings
from collections.abc import Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowy.artifacts.store_io import read_artifact, verify_artifact
from flowy.kernel import records as R
from flowy.kernel.contracts import UncacheableError
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import (
    ArtifactRef,
    CacheEntry,
    RunRecord,
    StepResult,
    StepRunRecord,
    StepTask,
)
from flowy.run import code_digests
from flowy.run.caching import InputHash, code_hash, combine
from flowy.run.worker import StepInterrupted

if TYPE_CHECKING:
    from flowy.artifacts.resolution import MaterializerRegistry
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.run.context import Context
    from flowy.run.pipeline import Pipeline
    from flowy.run.selection import Selection
    from flowy.run.steps import Step
    from flowy.stacks.definitions import ResolvedStack


#: Seconds a cancelled run waits for running steps to report what they had done.
INTERRUPT_GRACE = 5.0


class CacheWarning(UserWarning):
    """A step ran uncached because part of its key could not be computed."""


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
        return read_artifact(
            self._store,
            self.artifacts[output],
            self._materializers,
            allow_pickle=self._allow_pickle,
        )

    @property
    def ok(self) -> bool:
        return self.status == R.COMPLETED


class RunExecution:
    """The state of one run while it executes.

    Also the planner ``flowy cache explain`` uses (:mod:`flowy.run.explain`): its
    ``task_for``, ``cache_parts`` and ``cache_hit`` are what a run would do,
    without executing anything.
    """

    def __init__(
        self,
        pipeline: Pipeline,
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
        from flowy.run.worker import WorkerRuntime

        self.pipeline = pipeline
        self.stack = stack
        self.plugins = plugins
        self.store = stack.metadata_store
        self.context = context
        self.no_cache = no_cache
        #: Newest cache entries by step, read on the first cache lookup (see cache_hit).
        self.prefetched: dict[str, tuple[CacheEntry, dict[str, ArtifactRef]]] | None = None
        self.allow_pickle = allow_pickle
        self.project = project
        self.materializers = MaterializerRegistry(plugins.registry)
        self.runtime = WorkerRuntime(stack.artifact_store, self.materializers)
        self.store_spec = stack.artifact_store_spec()
        self.strategies = {reg.name: reg for reg in plugins.registry.all("cache")}
        self.strategy_objs: dict[str, Any] = {}
        self.reusable: dict[str, Reusable] = {}
        """Step -> what a resumed run may re-use of it (see :meth:`resume_from`)."""
        self.run_id = run_id or uuid.uuid4().hex
        self.status: dict[str, str] = {}
        self.records: dict[str, StepRunRecord] = {}
        self.outputs: dict[str, ArtifactRef] = {}
        self.unwritten: list[StepRunRecord] = []
        """Cached steps' records not yet written (see :meth:`flush`)."""
        self.selection: Selection | None = None
        """A partial run's steps (see :mod:`flowy.run.selection`); None runs every step."""
        self.provided: set[str] = set()
        """Unselected steps whose outputs a partial run found (cache or an earlier run)."""
        self.run = RunRecord(
            run_id=self.run_id,
            pipeline=pipeline.name,
            status=R.RUNNING,
            params=_jsonable(self.context.to_dict()),
            stack=stack.record(),
            started_at=time.time(),
            experiment=experiment or pipeline.experiment or pipeline.name,
            pid=os.getpid(),
            host=socket.gethostname(),
        )

    # -- hooks ---------------------------------------------------------------

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call every implementation; one that raises is a warning, never a failed run.

        Each implementation is called through pluggy (one at a time, so one
        raising does not stop the others), which lets ``FLOWY_TRACE_PLUGINS``
        see every call.
        """
        for impl in getattr(self.plugins.hook, hook_name).get_hookimpls():
            try:
                self.plugins.call_one(hook_name, impl, kwargs)
            except Exception as exc:  # noqa: BLE001
                warnings.warn(
                    f"plugin {self.plugins.describe(impl.plugin_name)} raised in {hook_name}: "
                    f"{type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )

    # -- planning ------------------------------------------------------------

    def task_for(self, step: Step) -> StepTask:
        inputs = {name: self.outputs[name] for name in self.pipeline.inputs[step.name]}
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
        )

    def skip_reason(self, step: Step) -> str | None:
        if self.selection is not None and step.name not in self.selection.steps:
            return f"not selected ({self.selection.label})"
        for upstream in self.pipeline.upstream(step.name):
            if upstream in self.provided:
                continue
            if self.status.get(upstream) not in (R.COMPLETED, R.CACHED):
                return f"upstream step {upstream!r} {self.status.get(upstream, 'did not run')}"
        if step.when is not None and not step.when(self.context):
            return "its `when` condition is false"
        return None

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
        return combine(step.name, step.outputs, parts)

    def cache_hit(self, step: Step, key: str) -> tuple[CacheEntry, dict[str, ArtifactRef]] | None:
        if self.prefetched is None:  # the newest entry of every step, in one read per run
            cacheable = [s.name for s in self.pipeline.steps.values() if s.cache]
            self.prefetched = self.store.latest_cache_outputs(self.pipeline.name, cacheable)
        found = self.prefetched.pop(step.name, None)
        if found is None or found[0].key != key:
            found = self.store.lookup_cache_outputs(key)
        if found is None:
            return None
        entry, stored = found
        refs: dict[str, ArtifactRef] = {}
        for name, ref in stored.items():
            try:
                current = self.materializers.by_name(ref.materializer).version
            except FlowyError:
                return None
            if str(current) != ref.materializer_version:
                return None
            if not verify_artifact(self.runtime.artifact_store, ref):
                return None
            refs[name] = ref if ref.name == name else attrs.evolve(ref, name=name)
        if set(refs) != set(step.outputs):
            return None
        return entry, refs

    # -- recording -----------------------------------------------------------

    def flush(self) -> None:
        """Write the buffered cached-step records, in order, as one batch."""
        if self.unwritten:
            batch, self.unwritten = self.unwritten, []
            self.store.record_steps(batch)

    def record_skipped(self, step: Step, reason: str) -> None:
        now = time.time()
        rec = StepRunRecord(self.run_id, step.name, R.SKIPPED, now, now, error=f"skipped: {reason}")
        self.flush()
        self.store.record_step(rec)
        self.status[step.name] = R.SKIPPED
        self.records[step.name] = rec
        self.notify("flowy_step_skipped", run=self.run, step=step.name, reason=reason)

    def record_cached(
        self,
        step: Step,
        task: StepTask,
        key: str | None,
        entry: CacheEntry,
        refs: dict[str, ArtifactRef],
    ) -> None:
        now = time.time()
        rec = StepRunRecord(
            self.run_id,
            step.name,
            R.CACHED,
            now,
            now,
            attempts=0,
            cache_key=key,
            code_hash=task.code_hash,
            params=_jsonable(task.params),
            inputs={n: r.artifact_id for n, r in task.inputs.items()},
            outputs={n: r.artifact_id for n, r in refs.items()},
        )
        self.unwritten.append(rec)  # written by flush(): see the module docstring
        if step.register_model:
            self.flush()  # a model version points at a recorded step run
            self.register_models(step, rec)
        self.status[step.name] = R.CACHED
        self.records[step.name] = rec
        self.outputs.update(refs)
        self.notify("flowy_step_cached", run=self.run, task=task, entry=entry)

    def record_result(
        self,
        step: Step,
        task: StepTask,
        result: StepResult,
        parts: dict[str, str] | None,
        key: str | None = None,
    ) -> None:
        artifacts = [
            attrs.evolve(ref, artifact_id=uuid.uuid4().hex) for ref in result.outputs.values()
        ]
        refs = {a.name: a for a in artifacts}
        # Files from flowy.log_artifact: recorded (and linked) as the step's, never cached
        # or handed downstream, so they never change what a cache hit must provide.
        logged = [
            attrs.evolve(ref, artifact_id=uuid.uuid4().hex) for ref in result.artifacts_logged
        ]
        if key is None:
            key = self.step_key(step, task, parts)
        entry = None
        if result.status == R.COMPLETED and key is not None and parts is not None:
            entry = CacheEntry(
                key,
                self.pipeline.name,
                step.name,
                self.run_id,
                parts,
                {n: a.artifact_id for n, a in refs.items()},
                time.time(),
            )
        params = _jsonable(task.params)
        params.update(_jsonable(result.params_logged))
        rec = StepRunRecord(
            self.run_id,
            step.name,
            result.status,
            result.started_at,
            result.finished_at,
            attempts=result.attempts,
            cache_key=key,
            code_hash=task.code_hash,
            error=result.error,
            error_type=result.error_type,
            traceback=result.traceback,
            logs=result.logs,
            params=params,
            inputs={n: r.artifact_id for n, r in task.inputs.items()},
            outputs={a.name: a.artifact_id for a in (*artifacts, *logged)},
        )
        self.flush()
        try:
            self.store.record_step(rec, [*artifacts, *logged], result.metrics, entry)
        except OSError as exc:  # disk full, an I/O error: the commit is lost, the step failed
            rec, result = self.record_lost_commit(rec, result, [*artifacts, *logged], exc)
            refs = {}
        if result.status == R.COMPLETED:
            self.register_models(step, rec)
        self.status[step.name] = result.status
        self.records[step.name] = rec
        self.outputs.update(refs)
        # Nobody listening is the common case: skip a no-op call per logged value.
        if self.plugins.hook.flowy_metric_logged.get_hookimpls():
            for metric in result.metrics:
                self.notify(
                    "flowy_metric_logged",
                    run=self.run,
                    step=step.name,
                    name=metric.name,
                    value=metric.value,
                    index=metric.step,
                )
        if result.status == R.COMPLETED:
            self.notify("flowy_step_finished", run=self.run, task=task, result=result)
        else:
            self.notify("flowy_step_failed", run=self.run, task=task, result=result)
            if step.on_failure is not None:
                try:
                    step.on_failure(step.name, result.error)
                except Exception as exc:  # noqa: BLE001
                    warnings.warn(
                        f"on_failure of step {step.name!r} raised {type(exc).__name__}: {exc}",
                        RuntimeWarning,
                        stacklevel=2,
                    )

    def record_lost_commit(
        self, rec: StepRunRecord, result: StepResult, new: list[ArtifactRef], exc: OSError
    ) -> tuple[StepRunRecord, StepResult]:
        """Record as failed, with ``exc`` as the reason, a step whose record could not be written.

        Its new artifact files would have no metadata row, ever: they are removed
        first (which may free the space the failure record needs; a file that
        cannot be removed is left unreferenced, for ``flowy gc``). The failure is
        recorded without artifacts, metrics or cache entry; when even that cannot
        be written, ``exc`` propagates.
        """
        for ref in new:
            try:
                self.runtime.artifact_store.delete(ref.uri)
            except Exception:  # noqa: BLE001 - left for `flowy gc`
                continue
        reason = f"the step's results could not be recorded: {exc}"
        failed = attrs.evolve(
            rec, status=R.FAILED, error=reason, error_type=type(exc).__name__, outputs={}
        )
        try:
            self.store.record_step(failed)
        except OSError:
            raise exc from None
        result = attrs.evolve(
            result, status=R.FAILED, error=reason, error_type=type(exc).__name__, metrics=[]
        )
        return failed, result

    def register_models(self, step: Step, rec: StepRunRecord) -> None:
        """``@step(register_model=...)``: a new model version once the step is recorded."""
        if step.register_model:
            from flowy.tracking.models import register_step_outputs

            register_step_outputs(self.store, step.register_model, rec)

    # -- executing -----------------------------------------------------------

    def execute(self) -> str:
        """Run every step as soon as its upstream steps are settled (not level by level)."""
        executor = self.stack.executor
        executor.bind(self.runtime)
        executor.plan(self.pipeline.width)
        downstream = self.pipeline.downstream_of
        waiting = {name: len(self.pipeline.upstream_of[name]) for name in self.pipeline.order}
        ready = [name for name in self.pipeline.order if waiting[name] == 0]
        running: dict[Future[StepResult], Submitted] = {}
        capacity = max(1, executor.capacity())
        self.notify("flowy_pipeline_started", run=self.run)

        def settled(name: str) -> None:
            for successor in downstream[name]:
                waiting[successor] -= 1
                if waiting[successor] == 0:
                    ready.append(successor)

        try:
            while ready or running:
                while ready and len(running) < capacity:
                    name = ready.pop(0)
                    if self.start(name, executor, running):
                        settled(name)
                if running:
                    self.flush()  # never hold records through a (possibly long) wait
                    done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                    for future in done:
                        step, task, parts, key = running.pop(future)
                        self.record_result(step, task, future.result(), parts, key)
                        settled(step.name)
        except KeyboardInterrupt as interrupt:
            # A step stopped in this process says what it had done (StepInterrupted); an
            # executor may let steps elsewhere report too before shutdown(cancel=True) returns.
            executor.shutdown(cancel=True)
            if running:  # attempts elsewhere end now, some with what their step had done
                wait(list(running), timeout=INTERRUPT_GRACE)
            stopped = {}
            if isinstance(interrupt, StepInterrupted):
                stopped[interrupt.result.step] = interrupt.result
            for future, (step, *_) in running.items():
                if future.done() and not future.cancelled() and future.exception() is None:
                    stopped[step.name] = future.result()
                future.cancel()
            for name in self.pipeline.order:
                if name not in self.status or self.status[name] == R.RUNNING:
                    self.cancel(name, stopped.get(name))
            return R.CANCELLED
        finally:
            self.flush()
        failed = any(s in (R.FAILED, R.TIMED_OUT) for s in self.status.values())
        return R.FAILED if failed else R.COMPLETED

    def start(
        self,
        name: str,
        executor: Any,
        running: dict[Future[StepResult], Submitted],
    ) -> bool:
        """Skip, serve from cache, or submit a ready step; True when it is settled now."""
        step = self.pipeline.steps[name]
        reason = self.skip_reason(step)
        if reason is not None:
            self.record_skipped(step, reason)
            return True
        task = self.task_for(step)
        parts = self.cache_parts(step, task)
        key = self.step_key(step, task, parts)
        if name in self.reusable and self.reuse(step, task, key, parts):
            return True
        if parts is not None and key is not None:
            hit = self.cache_hit(step, key)
            if hit is not None:
                self.record_cached(step, task, key, *hit)  # records the hit too
                return True
        self.flush()  # the step may read its inputs' records, from another process too
        self.status[name] = R.RUNNING
        self.notify("flowy_step_started", run=self.run, task=task)
        future = executor.submit(task, step)
        running[future] = (step, task, parts, key)
        return False

    def resume_from(self, run_id: str) -> None:
        """Offer the outputs of steps that completed in an earlier (crashed) run for re-use.

        Each is re-used only if the step's key now (code, inputs, parameters)
        is the one recorded with it (see :meth:`reuse`); otherwise it runs.
        """
        previous = self.store.get_run(run_id)
        if previous.pipeline != self.pipeline.name:
            raise FlowyError(
                f"Run {run_id} is of pipeline {previous.pipeline!r}, not {self.pipeline.name!r}; "
                "resume it with the pipeline it ran."
            )
        for rec in self.store.get_step_runs(previous.run_id):
            if rec.status in (R.COMPLETED, R.CACHED) and rec.step in self.pipeline.steps:
                declared = self.pipeline.steps[rec.step].outputs  # not logged files
                outputs = {n: a for n, a in rec.outputs.items() if n in declared}
                self.reusable[rec.step] = Reusable(previous.run_id, rec.cache_key, outputs)

    def reuse(
        self, step: Step, task: StepTask, key: str | None, parts: dict[str, str] | None
    ) -> bool:
        """Record ``step`` as re-used from the resumed run, if its key is unchanged.

        A record without a key (a step that ran uncached before keys were
        recorded for every step, or whose values could not be hashed) cannot be
        checked, so the step runs.
        """
        earlier = self.reusable[step.name]
        if key is None or earlier.key != key:
            return False
        refs: dict[str, ArtifactRef] = {}
        for name, artifact_id in earlier.outputs.items():
            try:
                ref = self.store.get_artifact(artifact_id)
            except FlowyError:
                return False
            if not verify_artifact(self.runtime.artifact_store, ref):
                return False
            refs[name] = attrs.evolve(ref, name=name)
        if set(refs) != set(step.outputs):
            return False
        entry = CacheEntry(
            key,
            self.pipeline.name,
            step.name,
            earlier.run_id,  # where the outputs come from: progress names that run
            parts or {},
            {n: r.artifact_id for n, r in refs.items()},
        )
        self.record_cached(step, task, key, entry, refs)
        return True

    def cancel(self, name: str, stopped: StepResult | None = None) -> None:
        """Record ``name`` as cancelled; ``stopped`` is what it did before it was stopped."""
        now = time.time()
        rec = StepRunRecord(self.run_id, name, R.CANCELLED, now, now, error="run cancelled")
        logged: list[ArtifactRef] = []
        if stopped is not None:  # it ran: keep what it printed, logged, its attempts and times
            logged = [
                attrs.evolve(ref, artifact_id=uuid.uuid4().hex) for ref in stopped.artifacts_logged
            ]
            rec.started_at = stopped.started_at or now
            rec.finished_at = stopped.finished_at or now
            rec.attempts = max(1, stopped.attempts)
            rec.logs = stopped.logs
            rec.params = _jsonable(stopped.params_logged)
            rec.outputs = {a.name: a.artifact_id for a in logged}
        self.flush()
        self.store.record_step(rec, logged, stopped.metrics if stopped is not None else [])
        self.status[name] = R.CANCELLED
        self.records[name] = rec


@attrs.frozen
class Reusable:
    """What a resumed run may re-use of one step: the run, the key it ran with, its outputs."""

    run_id: str
    key: str | None
    outputs: dict[str, str]
    """Output name -> artifact id."""


#: A submitted step, as the run waits for it: the step, its task, cache parts and key.
Submitted = tuple["Step", StepTask, dict[str, str] | None, str | None]


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    import json

    out: dict[str, Any] = {}
    for k, v in values.items():
        try:
            json.dumps(v)
            out[k] = v
        except (TypeError, ValueError):
            out[k] = repr(v)
    return out


def run_pipeline(
    pipeline: Pipeline,
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
    from flowy.stacks.definitions import resolve_stack

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

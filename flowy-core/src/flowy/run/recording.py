"""Recording a run's steps: the engine is the single writer of a run's metadata.

Each settled step is written in one metadata transaction (its record, the
artifacts it made or logged, its metrics and its cache entry), then the
``flowy_step_recorded`` hook hears of every completed or cached step (Flowy's
model registry answers it, as any plugin may), then observers hear of the step
through the lifecycle hooks.

Cached steps are settled synchronously, and nothing new comes with them (their
outputs already exist), so their records are buffered and written in one batch
(:meth:`~flowy.kernel.contracts.MetadataStore.record_steps`) before any other
step is recorded or handed to the executor, before the engine waits for a
running step, and when the run ends, however it ends; ``flowy_step_recorded``
is called for them once their batch is written. A process killed in between
loses at most those cached-step records, never a completed step's work: a
resumed or repeated run finds the same cache entries again.

Steps that finished while the engine was busy (a map's elements finish many at
a time) are written together, in one transaction
(:meth:`~flowy.kernel.contracts.MetadataStore.record_step_batch`), before any
of them is settled: nothing downstream sees a step before its record is there.
"""

from __future__ import annotations

import functools
import os
import random
import time
import uuid
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from flowy.kernel import records as R
from flowy.kernel.records import (
    ArtifactRef,
    CacheEntry,
    MetricRecord,
    StepResult,
    StepRunRecord,
    StepTask,
)
from flowy.run.mapping import MapState, item_of
from flowy.run.planner import RunPlanner, jsonable

if TYPE_CHECKING:
    from flowy.run.steps import Step

#: A step the executor finished: the step, its task, its result, its cache key's parts
#: and key (both None when it is not cached), as the engine holds it.
Finished = tuple["Step", StepTask, StepResult, "dict[str, str] | None", "str | None"]


@attrs.frozen
class StepRecord:
    """What recording one executed step writes, and the outputs it hands downstream."""

    rec: StepRunRecord
    new: list[ArtifactRef]
    metrics: list[MetricRecord]
    entry: CacheEntry | None
    refs: dict[str, ArtifactRef]

    @property
    def parts(
        self,
    ) -> tuple[StepRunRecord, list[ArtifactRef], list[MetricRecord], CacheEntry | None]:
        """The arguments of ``MetadataStore.record_step`` (one item of a batch)."""
        return self.rec, self.new, self.metrics, self.entry


class RunRecorder(RunPlanner):
    """A run's planner that also writes what happens to each step, and tells the hooks.

    Its own state (the records written, the batch not yet written) is made on
    first use, so it takes the planner's constructor as it is.
    """

    @functools.cached_property
    def records(self) -> dict[str, StepRunRecord]:
        """Step -> the record written for it."""
        return {}

    @functools.cached_property
    def maps(self) -> dict[str, MapState]:
        """Mapped step -> its items' state while they run (:mod:`flowy.run.mapping`)."""
        return {}

    @functools.cached_property
    def maps_done(self) -> list[str]:
        """Mapped steps whose every item settled, for the engine to settle in turn."""
        return []

    def settle(
        self, step: Step, status: str, rec: StepRunRecord, refs: dict[str, ArtifactRef]
    ) -> None:
        """Keep how ``step`` ended: the run's, or its map's for an element of a map."""
        item = item_of(step)
        if item is not None:  # its outputs are the map's to pass on, not the run's
            self.element_settled(item[0], item[1], status, refs)
            return
        self.status[step.name] = status
        self.records[step.name] = rec
        self.outputs.update(refs)

    def element_settled(
        self, name: str, index: int, status: str, refs: dict[str, ArtifactRef]
    ) -> None:
        """Element ``index`` of map ``name`` ended; the map settles once its last one has."""
        if self.maps[name].settle(index, status, refs):
            self.maps_done.append(name)

    @functools.cached_property
    def unwritten(self) -> list[tuple[Step, StepRunRecord]]:
        """Cached steps (and their records) not yet written (see :meth:`flush`)."""
        return []

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

    def recorded(self, step: Step, rec: StepRunRecord) -> None:
        """``flowy_step_recorded`` for a committed completed or cached step.

        Part of recording the step, not an observer call: an implementation
        that raises fails the run, as a failed write to the store does.
        """
        self.plugins.hook.flowy_step_recorded(run=self.run, step=step, record=rec, store=self.store)

    # -- recording -----------------------------------------------------------

    def flush(self) -> None:
        """Write the buffered cached-step records, in order, as one batch; then the hook."""
        if self.unwritten:
            batch = list(self.unwritten)
            self.unwritten.clear()
            self.store.record_steps([rec for _, rec in batch])
            for step, rec in batch:
                self.recorded(step, rec)

    def record_skipped(self, step: Step, reason: str) -> None:
        now = time.time()
        rec = StepRunRecord(
            self.run_id,
            step.name,
            R.SKIPPED,
            now,
            now,
            error=f"skipped: {reason}",
            tags=step_tags(step),
        )
        self.flush()
        self.store.record_step(rec)
        self.settle(step, R.SKIPPED, rec, {})
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
            params=jsonable(task.params),
            inputs=consumed(task),
            outputs={n: r.artifact_id for n, r in refs.items()},
            tags=step_tags(step),
        )
        shared = self.shared_cache
        if shared.index is not None:
            shared.hits.append(entry.key)
        if entry.key in shared.imported:  # a hit from the shared index: outputs unknown here
            self.flush()
            self.store.record_step(rec, shared.imported.pop(entry.key), (), entry)
            self.recorded(step, rec)
        else:
            self.unwritten.append((step, rec))  # written by flush(): see the module docstring
        self.settle(step, R.CACHED, rec, refs)
        self.notify("flowy_step_cached", run=self.run, task=task, entry=entry)

    def record_result(
        self,
        step: Step,
        task: StepTask,
        result: StepResult,
        parts: dict[str, str] | None,
        key: str | None,
    ) -> None:
        """Record what an executed step did, in one transaction, then tell the hooks."""
        record = self.step_record(step, task, result, parts, key)
        self.flush()
        try:
            self.store.record_step(*record.parts)
        except OSError as exc:  # disk full, an I/O error: the commit is lost, the step failed
            rec, result = self.record_lost_commit(record.rec, result, record.new, exc)
            record = attrs.evolve(record, rec=rec, refs={})
        self.settle_recorded(step, task, result, record)

    def record_results(self, done: Sequence[Finished]) -> None:
        """Record several executed steps in one transaction, then settle each, in order.

        What finished while the engine was busy (a map's elements finish many at a
        time). When the batch cannot be written, nothing of it was: each is then
        recorded alone, so one that cannot be is recorded failed on its own.
        """
        if len(done) == 1:
            self.record_result(*done[0])
            return
        records = [self.step_record(*finished) for finished in done]
        self.flush()
        try:
            self.store.record_step_batch([record.parts for record in records])
        except OSError:
            for finished in done:
                self.record_result(*finished)
            return
        for (step, task, result, _, _), record in zip(done, records, strict=True):
            self.settle_recorded(step, task, result, record)

    def step_record(
        self,
        step: Step,
        task: StepTask,
        result: StepResult,
        parts: dict[str, str] | None,
        key: str | None,
    ) -> StepRecord:
        """What recording ``result`` writes: the step run, its new artifacts (fresh ids),
        its metrics and, for a completed step with a key, its cache entry."""
        artifacts = [attrs.evolve(ref, artifact_id=new_id()) for ref in result.outputs.values()]
        refs = {a.name: a for a in artifacts}
        # Files from flowy.log_artifact: recorded (and linked) as the step's, never cached
        # or handed downstream, so they never change what a cache hit must provide.
        logged = [attrs.evolve(ref, artifact_id=new_id()) for ref in result.artifacts_logged]
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
        params = jsonable(task.params)
        params.update(jsonable(result.params_logged))
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
            inputs=consumed(task),
            outputs={a.name: a.artifact_id for a in (*artifacts, *logged)},
            tags=step_tags(step),
            **(result.resources.columns() if result.resources else {}),
        )
        return StepRecord(rec, [*artifacts, *logged], list(result.metrics), entry, refs)

    def settle_recorded(
        self, step: Step, task: StepTask, result: StepResult, record: StepRecord
    ) -> None:
        """After a step's record is committed: the recorded hook, its state, the observers."""
        if result.status == R.COMPLETED:
            self.recorded(step, record.rec)
            if record.entry is not None:
                self.shared_cache.publish(record.entry, record.refs)
        self.settle(step, result.status, record.rec, record.refs)
        self.tell_observers(step, task, result)

    def tell_observers(self, step: Step, task: StepTask, result: StepResult) -> None:
        """The lifecycle hooks for a recorded step, and its ``on_failure`` if it failed."""
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
            return
        self.notify("flowy_step_failed", run=self.run, task=task, result=result)
        if step.on_failure is not None:
            try:
                step.on_failure(step.name, result.error)
            except Exception as exc:  # noqa: BLE001
                warnings.warn(
                    f"on_failure of step {step.name!r} raised {type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=3,
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

    def record_cancelled(self, name: str, stopped: StepResult | None = None) -> None:
        """Record ``name`` as cancelled; ``stopped`` is what it did before it was stopped."""
        now = time.time()
        step = self.pipeline.steps.get(name)
        tags = step_tags(step) if step is not None else []
        rec = StepRunRecord(
            self.run_id, name, R.CANCELLED, now, now, error="run cancelled", tags=tags
        )
        logged: list[ArtifactRef] = []
        if stopped is not None:  # it ran: keep what it printed, logged, its attempts and times
            logged = [attrs.evolve(ref, artifact_id=new_id()) for ref in stopped.artifacts_logged]
            rec.started_at = stopped.started_at or now
            rec.finished_at = stopped.finished_at or now
            rec.attempts = max(1, stopped.attempts)
            rec.logs = stopped.logs
            rec.params = jsonable(stopped.params_logged)
            rec.outputs = {a.name: a.artifact_id for a in logged}
            if stopped.resources is not None:
                rec = attrs.evolve(rec, **stopped.resources.columns())
        self.flush()
        self.store.record_step(rec, logged, stopped.metrics if stopped is not None else [])
        self.status[name] = R.CANCELLED
        self.records[name] = rec


#: Flowy's own generator for ids: seeded from the OS, re-seeded in a forked child, and
#: never the global one, which a step or a test (hypothesis) may seed to repeat itself.
_ids = random.Random()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.seed)


def consumed(task: StepTask) -> dict[str, str]:
    """A task's inputs as its record keeps them: input -> artifact id. An input known only
    by its reference (an element read from a collection's manifest) has no id to link."""
    return {n: r.artifact_id for n, r in task.inputs.items() if r.artifact_id}


def new_id() -> str:
    """A new artifact id: a random (version 4) UUID's hex, like ``uuid.uuid4().hex``.

    Drawn from a generator seeded once from the OS rather than from
    ``os.urandom`` each time: that system call gives up the GIL, and with
    executor threads waiting on workers, getting it back cost about a millisecond
    per artifact, a second for a 1,000-element map.
    """
    return uuid.UUID(int=_ids.getrandbits(128), version=4).hex


def step_tags(step: Step) -> list[str]:
    """``step``'s tags as a record keeps them: sorted and unique, so equal sets compare equal."""
    return sorted(set(step.tags))

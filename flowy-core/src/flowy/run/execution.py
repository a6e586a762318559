"""Executing a run: walk the DAG, skip, serve from the cache, re-use, or submit each step.

:class:`RunExecution` decides, step by step as each becomes ready, whether the
step is skipped (its ``when`` is false or an upstream step did not produce its
outputs), re-used from the run a ``--resume`` names, satisfied from the cache,
or handed to the executor as a :class:`~flowy.kernel.records.StepTask`; what it
plans comes from :class:`~flowy.run.planner.RunPlanner`, and every result is
written by :class:`~flowy.run.recording.RunRecorder`.
"""

from __future__ import annotations

import signal
import threading
import time
import warnings
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from flowy.artifacts.collection import element_name, element_of
from flowy.artifacts.store_io import verify_artifact
from flowy.kernel import records as R
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import ArtifactRef, CacheEntry, StepResult, StepTask
from flowy.run import circuits
from flowy.run.map_execution import MapExecution
from flowy.run.mapping import item_of, item_step
from flowy.run.planner import output_of, provides
from flowy.run.worker import StepInterrupted

if TYPE_CHECKING:
    from flowy.run.recording import Finished
    from flowy.run.steps import Step

#: Seconds a cancelled run waits for running steps to report what they had done.
INTERRUPT_GRACE = 5.0

#: Seconds between two checks whether someone asked to cancel the run (``flowy runs cancel``,
#: the web UI): one primary-key read of the metadata store each.
CANCEL_POLL = 0.5

#: The width a pipeline with a mapped step announces (:meth:`Executor.plan`): its elements
#: may all run at once.
MAP_WIDTH = 1 << 20

#: A submitted step, as the run waits for it: the step, its task, cache parts and key.
Submitted = tuple["Step", StepTask, dict[str, str] | None, str | None]


@attrs.frozen
class Reusable:
    """What a resumed run may re-use of one step: the run, the key it ran with, its outputs."""

    run_id: str
    key: str | None
    outputs: dict[str, str]
    """Output name -> artifact id."""


class CancelWatch:
    """Watches the metadata store for a request to cancel one run, and acts as Ctrl-C would.

    A daemon thread asks :meth:`~flowy.kernel.contracts.MetadataStore.cancel_requested`
    every :data:`CANCEL_POLL` seconds. Once asked, :attr:`requested` is set: the
    engine's wait on the executor checks it as often and raises
    KeyboardInterrupt, so the run ends exactly as an interrupted one
    (``cancelled``, with its running steps recorded cancelled). A step running
    *in* the orchestrating thread (the sequential executor) cannot be reached
    that way; while one runs (:attr:`inline`) the thread sends that thread
    SIGINT, which is what Ctrl-C does, when SIGINT still has Python's default
    handler there. Stores without cancel requests (the default method) start
    no thread.
    """

    def __init__(self, store: Any, run_id: str, interval: float = CANCEL_POLL) -> None:
        self.store = store
        self.run_id = run_id
        self.interval = interval
        self.requested = threading.Event()
        self.inline = False
        """True while the orchestrating thread itself runs a step (see the class docstring)."""
        self._stop = threading.Event()
        self._main = threading.get_ident()
        self._can_signal = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
        self._thread: threading.Thread | None = None
        from flowy.kernel.metadata_store import MetadataStore

        if type(store).cancel_requested is not MetadataStore.cancel_requested:
            self._thread = threading.Thread(
                target=self._watch, name=f"flowy-cancel-{run_id[:8]}", daemon=True
            )
            self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                asked = self.store.cancel_requested(self.run_id)
            except Exception:  # noqa: BLE001 - a busy or closing store: ask again later
                continue
            if asked:
                self.requested.set()
                if self.inline and self._can_signal and not self._stop.is_set():
                    signal.pthread_kill(self._main, signal.SIGINT)
                return

    def check(self) -> None:
        """Raise KeyboardInterrupt if the run was asked to cancel."""
        if self.requested.is_set():
            raise KeyboardInterrupt(f"run {self.run_id} cancelled on request")

    def stop(self) -> None:
        """End the thread (and so any signal it might still send) before the run ends."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class RunExecution(MapExecution):
    """The state of one run while it executes.

    Made and driven by :func:`flowy.run.engine.run_pipeline`: :meth:`resume_from`
    (for ``--resume``), then :meth:`execute`.
    """

    reusable: Mapping[str, Reusable] = MappingProxyType({})
    """Step -> what a resumed run may re-use of it (see :meth:`resume_from`); none by default."""

    def execute(self) -> str:
        """Run every step as soon as its upstream steps are settled (not level by level)."""
        executor = self.stack.executor
        self.retry_lock = threading.Lock()
        self.runtime.on_retry = self.retrying
        self.runtime.on_output = self.output_reported
        executor.bind(self.runtime)
        mapped = any(s.map is not None for s in self.pipeline.steps.values())
        # A map's width is known only when it runs: as many at once as the executor can.
        executor.plan(MAP_WIDTH if mapped else self.pipeline.width)
        downstream = self.pipeline.downstream_of
        waiting = {name: len(self.pipeline.upstream_of[name]) for name in self.pipeline.order}
        ready = [name for name in self.pipeline.order if waiting[name] == 0]
        running: dict[Future[StepResult], Submitted] = {}
        capacity = max(1, executor.capacity())
        # A map's elements may queue behind the workers (Executor.backlog), so none idles.
        elements_at_once = capacity + max(0, int(executor.backlog()))
        self.shared_cache.start(self.pipeline.name)  # the store's cache limits
        self.notify("flowy_pipeline_started", run=self.run)
        self.watch = CancelWatch(self.store, self.run_id)

        self.ready = ready  # a mapped step adds its items (see start_map)

        def settled(name: str) -> None:
            for successor in downstream[name]:
                waiting[successor] -= 1
                if waiting[successor] == 0:
                    ready.append(successor)

        def settle_maps() -> None:  # each map whose last item just settled settles itself
            self.record_due_skips()
            while self.maps_done:
                name = self.maps_done.pop(0)
                self.finish_map(name)
                settled(name)

        try:
            try:
                while ready or running:
                    while ready and len(running) < (
                        elements_at_once if element_of(ready[0]) else capacity
                    ):
                        self.watch.check()
                        name = ready.pop(0)
                        if self.start(name, executor, running) and name in downstream:
                            settled(name)
                        settle_maps()
                    if running:
                        self.flush()  # never hold records through a (possibly long) wait
                        done = self.wait_or_cancel(running)
                        finished: list[Finished] = []
                        for future in [f for f in running if f in done]:  # in submitted order
                            step, task, parts, key = running.pop(future)
                            finished.append((step, task, future.result(), parts, key))
                        self.record_results(finished)  # in one transaction
                        for step, *_ in finished:
                            if step.name in downstream:
                                settled(step.name)
                        settle_maps()
            finally:
                self.watch.stop()  # inside the try: a SIGINT it sent lands here
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
            for name, state in self.maps.items():  # its items that had not ended
                for i, status in enumerate(state.status):
                    item = element_name(name, i)
                    if status is None and (item in stopped or self.item_started(name, i)):
                        self.record_cancelled(item, stopped.get(item))
            for name in self.pipeline.order:
                if name not in self.status or self.status[name] == R.RUNNING:
                    self.record_cancelled(name, stopped.get(name))
            return R.CANCELLED
        finally:
            self.flush()
            self.shared_cache.finish()  # the run's hits, to the shared index
        failed = any(s in (R.FAILED, R.TIMED_OUT) for s in self.status.values())
        return R.FAILED if failed else R.COMPLETED

    def wait_or_cancel(self, running: dict[Future[StepResult], Submitted]) -> set[Future[Any]]:
        """The futures done once one is, checking for a cancel request meanwhile."""
        while True:
            done, _ = wait(list(running), timeout=CANCEL_POLL, return_when=FIRST_COMPLETED)
            if done:
                return done
            self.watch.check()

    def retrying(self, task: StepTask, result: StepResult, delay: float) -> None:
        """``flowy_step_retrying``, for the runtime's ``report_retry``: from any thread,
        one call at a time (executors drive attempts in threads of their own)."""
        with self.retry_lock:
            self.notify("flowy_step_retrying", run=self.run, task=task, result=result, delay=delay)
        # The live tail separates attempts as the recorded log does.
        self.output_reported(task, f"--- attempt {result.attempts + 1} ---\n")

    def output_reported(self, task: StepTask, text: str) -> None:
        """The live tail of a running step, for the runtime's ``report_output``: from any
        thread. A view of the run, so a store that fails here only warns; output that
        arrives after the step settled (its record holds the full log) is dropped."""
        if self.status.get(task.step) != R.RUNNING:
            return
        try:
            self.store.append_step_output(self.run_id, task.step, text)
        except Exception as exc:  # noqa: BLE001
            warnings.warn(
                f"showing the output of step {task.step!r} while it runs failed: "
                f"{type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )

    def start(
        self,
        name: str,
        executor: Any,
        running: dict[Future[StepResult], Submitted],
    ) -> bool:
        """Skip, serve from cache, or submit a ready step; True when it is settled now.

        ``name`` may be an element of a mapped step (``train[3]``), queued by
        :meth:`start_map`; a mapped step itself settles once its last item has.
        """
        if name in self.maps:  # a map already under way (chained): it settles on its own
            return False
        element = element_of(name)
        if element is not None and element[0] in self.maps:
            state = self.maps[element[0]]
            index = element[1]
            return self.submit(
                item_step(state.step, index), state.item_task(index), executor, running
            )
        step = self.pipeline.steps[name]
        reason = self.skip_reason(step)
        if reason is not None:
            self.record_skipped(step, reason)
            return True
        task = self.task_for(step)
        if step.map is not None:
            return self.start_map(step, task)
        return self.submit(step, task, executor, running)

    def submit(
        self,
        step: Step,
        task: StepTask,
        executor: Any,
        running: dict[Future[StepResult], Submitted],
    ) -> bool:
        """Re-use, serve from cache, or hand ``task`` to the executor; True when settled now."""
        name = step.name
        parts = self.cache_parts(step, task)
        key = self.step_key(step, task, parts)
        if name in self.reusable and self.reuse(step, task, key, parts):
            return True
        if parts is not None and key is not None:
            hit = self.cache_hit(step, key)
            if hit is not None:
                self.record_cached(step, task, key, *hit)  # records the hit too
                return True
        if step.circuit_breaker is not None and circuits.held_open(self, step, task):
            return True  # its breaker is open: its fallback or skip is recorded
        self.flush()  # the step may read its inputs' records, from another process too
        if item_of(step) is None:
            self.status[name] = R.RUNNING
            self.store.record_step_started(self.run_id, name, time.time())  # for live views
        else:  # live views show the map as running; one write per element would double
            self.items_started.add(name)  # a large map's commits
        self.notify("flowy_step_started", run=self.run, task=task)
        self.watch.inline = True  # a sequential executor runs the step inside submit
        try:
            future = executor.submit(task, step)
        finally:
            self.watch.inline = False
        running[future] = (step, task, parts, key)
        if step.circuit_breaker is not None:  # it hears how the attempt ends
            circuits.watch(self, step, future)
        return False

    # -- resuming ------------------------------------------------------------

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
        reusable: dict[str, Reusable] = {}
        for rec in self.store.get_step_runs(previous.run_id):
            if rec.status in (R.COMPLETED, R.CACHED) and rec.step in self.pipeline.steps:
                declared = self.pipeline.steps[rec.step].outputs  # not logged files
                outputs = {n: a for n, a in rec.outputs.items() if output_of(n, declared)}
                reusable[rec.step] = Reusable(previous.run_id, rec.cache_key, outputs)
        self.reusable = reusable

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
        if not provides(step, refs):
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

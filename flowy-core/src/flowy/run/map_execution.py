"""Running mapped steps: expanding them into elements, chaining maps, settling them.

:class:`MapExecution` is the part of a run's execution (:class:`~flowy.run.execution.RunExecution`
extends it) that handles ``@step(map=...)`` (see :mod:`flowy.run.mapping` for
the model). A mapped step that becomes ready queues one item per element on
the run's ready list, where they wait for the executor like any step.

Maps chain without a barrier: when a mapped step starts and a downstream step
maps over one of its outputs (and needs nothing else still to come), that step
starts too, and its element ``i`` is queued as soon as element ``i`` before it
passed, while the other elements are still running. An element that did not
pass skips the elements after it, with the reason recorded.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

import attrs

from flowy.artifacts.collection import element_name
from flowy.kernel import records as R
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import ArtifactRef, StepResult, StepTask
from flowy.run.mapping import PASSED, MapState, elements_of, item_step
from flowy.run.mapping import finish as finish_elements
from flowy.run.recording import RunRecorder

if TYPE_CHECKING:
    from flowy.run.steps import Step


class MapExecution(RunRecorder):
    """A run's handling of mapped steps (see the module)."""

    ready: list[str]
    """The run's queue of steps (and elements) ready to start, set by ``execute``."""

    @functools.cached_property
    def items_started(self) -> set[str]:
        """Elements of maps handed to the executor (``train[3]``)."""
        return set()

    @functools.cached_property
    def chained(self) -> dict[str, list[str]]:
        """Mapped step -> the mapped steps started beside it over its outputs."""
        return {}

    @functools.cached_property
    def chained_after(self) -> set[str]:
        """Mapped steps started beside the map before them (their input comes later)."""
        return set()

    def item_started(self, name: str, index: int) -> bool:
        return element_name(name, index) in self.items_started

    def start_map(self, step: Step, task: StepTask) -> bool:
        """Queue one item per element of ``step``'s map input; True only when there is
        nothing to map over (recorded failed: the reason says why). An empty map settles
        through :attr:`maps_done`."""
        try:
            elements = elements_of(self, step, task)
        except FlowyError as exc:  # nothing to map over: the step fails, with the reason
            self.open_map(step, task, [])
            self.maps.pop(step.name)
            now = time.time()
            failed = StepResult(
                step.name, R.FAILED, started_at=now, finished_at=now, error=str(exc),
                error_type="flowy.MapFailed", logs=f"{exc}\n",
            )  # fmt: skip
            self.record_result(step, task, failed, None, None)
            return True
        self.open_map(step, task, elements)
        if not elements:
            self.maps_done.append(step.name)
            return False
        self.ready.extend(element_name(step.name, i) for i in range(len(elements)))
        self.chain_from(step, len(elements))
        return False

    def open_map(self, step: Step, task: StepTask, elements: list[Any]) -> None:
        """Start ``step`` as a map over ``elements`` (None: not yet known, chained)."""
        self.prefetch_elements(step, len(elements))
        state = MapState(step, task, elements)
        self.maps[step.name] = state
        self.status[step.name] = R.RUNNING
        self.store.record_step_started(self.run_id, step.name, state.started_at)
        self.notify("flowy_step_mapped", run=self.run, step=step.name, count=len(elements))
        self.notify("flowy_step_started", run=self.run, task=task)

    def prefetch_elements(self, step: Step, count: int) -> None:
        """Read the newest cache entry of each element in one query, as a run does for its
        steps (:meth:`~flowy.run.planner.RunPlanner.cache_hit` takes them from there): a
        re-run of a large map then costs no query per element."""
        if not step.cache or self.no_cache or not count:
            return
        names = [element_name(step.name, i) for i in range(count)]
        self.prefetch().update(self.store.latest_cache_outputs(self.pipeline.name, names))

    def chain_from(self, step: Step, count: int) -> None:
        """Start now each downstream map over an output of ``step`` that needs nothing
        else still to come (its other inputs settled, its ``when`` true)."""
        for name in self.pipeline.downstream_of[step.name]:
            after = self.pipeline.steps[name]
            if after.map is None or name in self.maps or not self.chainable(after, step):
                continue
            self.open_map(after, self.task_for(after, pending=after.map), [None] * count)
            self.chained.setdefault(step.name, []).append(name)
            self.chained_after.add(name)
            self.chain_from(after, count)

    def chainable(self, after: Step, before: Step) -> bool:
        """Whether ``after`` can start beside ``before``: it maps over an output of
        ``before`` and reads nothing else of it, and would not be skipped for any other
        reason."""
        from_before = [
            i for i in self.pipeline.inputs[after.name] if self.pipeline.producer[i] == before.name
        ]
        if from_before != [after.map]:
            return False
        if self.selection is not None and after.name not in self.selection.steps:
            return False
        for upstream in self.pipeline.upstream(after.name):
            if upstream == before.name or upstream in self.provided:
                continue
            if self.status.get(upstream) not in PASSED:
                return False
        return after.when is None or bool(after.when(self.context))

    def element_settled(
        self, name: str, index: int, status: str, refs: dict[str, ArtifactRef]
    ) -> None:
        """Element ``index`` of map ``name`` ended: pass it on to the maps chained after it."""
        super().element_settled(name, index, status, refs)
        for after in self.chained.get(name, []):
            state = self.maps[after]
            if status in PASSED:
                state.elements[index] = refs[state.map_input]
                self.ready.append(element_name(after, index))
            else:  # recorded once the element's own record and hooks are done
                reason = f"element {element_name(name, index)} {status}"
                self.skips_due.append((after, index, reason))

    @functools.cached_property
    def skips_due(self) -> list[tuple[str, int, str]]:
        """Elements of chained maps to record skipped: (map, index, reason)."""
        return []

    def record_due_skips(self) -> None:
        """Record the elements skipped because the element before them did not pass."""
        while self.skips_due:
            name, index, reason = self.skips_due.pop(0)
            self.record_skipped(item_step(self.maps[name].step, index), reason)

    def finish_map(self, name: str) -> None:
        """Record a mapped step whose items all settled, as one step with collections.

        A chained map whose map before it failed is recorded skipped, as it would
        have been had it waited (its elements that ran keep their records).
        """
        state = self.maps[name]
        step = state.step
        mapped = state.map_input
        if name in self.chained_after:  # chained: its input is known only now
            reason = self.skip_reason(step)
            if reason is not None:
                self.record_skipped(step, reason)
                return
            inputs = {**state.task.inputs, mapped: self.outputs[mapped]}
            state.task = attrs.evolve(state.task, inputs=inputs)
        result, elements = finish_elements(self, state)
        self.record_result(step, state.task, result, None, None)
        if result.status == R.COMPLETED:
            self.outputs.update(elements)

"""Mapped steps: ``@step(map="items")`` runs once per element of an upstream list.

The producer of ``items`` stores it element by element (its task's ``split``,
:mod:`flowy.artifacts.collection`), so each element is an artifact with its own
checksum. When the mapped step is ready, the engine expands it into one item
per element, ``train[0]`` ... ``train[n-1]``: each an ordinary step task whose
``items`` input is that one element, so each is cached by its own input hash
(changing one element of a 1,000-element list re-runs one item), retried
alone, and recorded as a step of its own with lineage from its element. Items
run in parallel on whatever executor the stack has.

When every item settled, the mapped step itself settles: its outputs are
collections of the items' outputs, in input order, so a downstream step taking
one receives the whole list (fan-in), and a downstream mapped step maps over it
element by element. Up to ``max_failures`` items may fail: the others' outputs
are passed on and the mapped step completes; one more and it fails.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

import attrs

from flowy.artifacts.collection import element_name, is_collection, splittable, write_collection
from flowy.artifacts.keys import output_key
from flowy.kernel import records as R
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import ArtifactRef, StepResult, StepTask

if TYPE_CHECKING:
    from flowy.run.planner import RunPlanner
    from flowy.run.steps import Step

#: Item statuses that pass the item's outputs on.
PASSED = (R.COMPLETED, R.CACHED)


def item_step(step: Step, index: int) -> Step:
    """The step as its element ``index`` runs: the same function and options, named
    ``step[index]``, marked with :attr:`item_of` so records go to the map."""
    item = copy.copy(step)
    item.name = element_name(step.name, index)
    item.item_of = (step.name, index)  # type: ignore[attr-defined]
    return item


def item_of(step: Step) -> tuple[str, int] | None:
    """``(mapped step, index)`` for an item made by :func:`item_step`, else None."""
    found: tuple[str, int] | None = getattr(step, "item_of", None)
    return found


@attrs.define
class MapState:
    """One mapped step while its items run."""

    step: Step
    task: StepTask
    """The mapped step's own task (its ``map`` input is the whole collection)."""
    elements: list[Any]
    """Each element's artifact (a map over an input; None until the element before it, in a
    chained map, passed), or its value (a map over a parameter)."""
    started_at: float = attrs.field(factory=time.time)
    status: list[str | None] = attrs.field(init=False)
    outputs: list[dict[str, ArtifactRef]] = attrs.field(init=False)
    remaining: int = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.status = [None] * len(self.elements)
        self.outputs = [{} for _ in self.elements]
        self.remaining = len(self.elements)

    def settle(self, index: int, status: str, refs: dict[str, ArtifactRef]) -> bool:
        """Record how item ``index`` ended; True once every item has."""
        if self.status[index] is None:
            self.remaining -= 1
        self.status[index] = status
        self.outputs[index] = dict(refs)
        return self.remaining == 0

    def item_task(self, index: int) -> StepTask:
        element = self.elements[index]
        name = element_name(self.step.name, index)
        if self.map_input in self.task.params:  # a map over a parameter: one value each
            params = {**self.task.params, self.map_input: element}
            return attrs.evolve(self.task, step=name, params=params, split=[])
        assert element is not None, "an element is queued only once it is known"
        inputs = {**self.task.inputs, self.map_input: element}
        return attrs.evolve(self.task, step=name, inputs=inputs, split=[])

    @property
    def map_input(self) -> str:
        assert self.step.map is not None
        return self.step.map

    def failed(self) -> list[int]:
        """Elements that ran and did not pass (what ``max_failures`` counts)."""
        return [i for i, s in enumerate(self.status) if s not in PASSED and s != R.SKIPPED]

    def passed(self) -> list[int]:
        """Elements whose outputs are passed on (the others failed, or were skipped
        because the element before them in a chain of maps did not pass)."""
        return [i for i, s in enumerate(self.status) if s in PASSED]


def elements_of(run: RunPlanner, step: Step, task: StepTask) -> list[Any]:
    """The elements ``step`` maps over, in order: artifacts for an input, values for a
    parameter (a list the run's context gives)."""
    name = step.map
    assert name is not None
    if name in task.inputs:
        return list(element_refs(run, step))
    value = task.params.get(name)
    elements = splittable(value)
    if elements is None:
        raise FlowyError(
            f"Step {step.name!r} maps over the parameter {name!r}, which is a "
            f"{type(value).__name__} ({value!r:.80}); give it a list, e.g. "
            f"--param '{name}=[1, 2, 3]'."
        )
    return list(elements)


def element_refs(run: RunPlanner, step: Step) -> list[ArtifactRef]:
    """The elements ``step`` maps over, in order, from the run's outputs.

    The producer recorded them as ``items[0]``, ``items[1]``...; outputs found
    another way (a partial run's earlier outputs) carry only the collection,
    whose manifest lists them.
    """
    name = step.map
    assert name is not None
    collection = run.outputs[name]
    if not is_collection(collection):
        raise FlowyError(
            f"Step {step.name!r} maps over {name!r}, but the {name!r} this run found was stored "
            f"as one {collection.type_name} (artifact {collection.artifact_id or collection.uri}),"
            f" not element by element. Run the step that makes it again "
            f"(`flowy run ... --from {run.pipeline.producer[name]}`)."
        )
    count = int(collection.metadata.get("length", -1))
    found = [run.outputs.get(element_name(name, i)) for i in range(max(count, 0))]
    if count >= 0 and all(ref is not None for ref in found):
        return [ref for ref in found if ref is not None]
    from flowy.artifacts.store_io import read_artifact

    manifest = read_artifact(run.runtime.artifact_store, collection, run.materializers)
    return list(manifest.refs)


def finish(run: RunPlanner, state: MapState) -> tuple[StepResult, dict[str, ArtifactRef]]:
    """The mapped step's own result once every item settled, and the elements it passes on.

    Its outputs are collections of the passed items' outputs (written here, in
    the run's folder for the step); ``max_failures`` decides whether it failed.
    """
    step, n = state.step, len(state.elements)
    failed = state.failed()
    shown = ", ".join(element_name(step.name, i) for i in failed[:10])
    more = f" and {len(failed) - 10} more" if len(failed) > 10 else ""
    now = time.time()
    if len(failed) > step.max_failures:
        error = (
            f"{len(failed)} of {n} elements did not complete ({shown}{more}); "
            f"max_failures={step.max_failures}"
        )
        result = StepResult(
            step=step.name,
            status=R.FAILED,
            started_at=state.started_at,
            finished_at=now,
            error=error,
            error_type="flowy.MapFailed",
            logs=error + "\n",
        )
        return result, {}
    passed = state.passed()
    skipped = n - len(passed) - len(failed)
    outputs: dict[str, ArtifactRef] = {}
    elements: dict[str, ArtifactRef] = {}
    for output in step.outputs:
        refs = []
        for position, i in enumerate(passed):
            ref = state.outputs[i][output]
            refs.append(ref)
            elements[element_name(output, position)] = ref
        outputs[output] = write_collection(
            run.runtime.artifact_store,
            output_key(state.task.artifact_prefix, run.run_id, step.name, output),
            output,
            refs,
            run.materializers,
            origin=state.task,
        )
    logs = f"{n} elements: {len(passed)} passed on"
    if failed:
        logs += f"; {len(failed)} left out ({shown}{more}), within max_failures={step.max_failures}"
    if skipped:
        logs += f"; {skipped} skipped (their element failed in the map before)"
    result = StepResult(
        step=step.name,
        status=R.COMPLETED,
        started_at=state.started_at,
        finished_at=now,
        outputs=outputs,
        logs=logs + "\n",
        attempts=0,
    )
    return result, elements

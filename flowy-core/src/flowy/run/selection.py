"""Partial runs: ``--only STEP``, ``--from STEP``, ``--to STEP`` (as Kedro users expect).

The selected steps run; every other step is recorded as skipped ("not
selected (--only fit)"). A selected step's inputs from a step outside the
selection come from that step's cache entry (when its key can be computed
now and an entry matches) or else from the newest run in which that step
completed; either way the stored files are verified against their checksums,
as a cache hit's are. When neither exists the run stops before anything
runs or is recorded, naming the step, the missing output and what to do.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from flowy.kernel import records as R
from flowy.kernel.errors import FlowyError
from flowy.run.planner import RunPlanner, Selection, output_of, provides

if TYPE_CHECKING:
    from flowy.kernel.records import ArtifactRef
    from flowy.run.graph import PipelineGraph

#: How many of the pipeline's newest runs are searched for an unselected step's outputs.
RECENT_RUNS = 50


def select(
    pipeline: PipelineGraph,
    only: Iterable[str] | str | None = None,
    from_step: str | None = None,
    to_step: str | None = None,
) -> Selection | None:
    """The selection ``only``/``from_step``/``to_step`` ask for; None for the whole pipeline.

    ``from_step`` is that step and everything downstream of it, ``to_step``
    that step and everything upstream of it, ``only`` exactly the steps named;
    given together, the selection is what all of them select.
    """
    only_list = [only] if isinstance(only, str) else list(only or [])
    if not only_list and from_step is None and to_step is None:
        return None
    chosen = set(pipeline.steps)
    label: list[str] = []
    if only_list:
        for name in only_list:
            _check_name(pipeline, name, "--only")
        chosen &= set(only_list)
        label.append(" ".join(f"--only {n}" for n in only_list))
    if from_step is not None:
        _check_name(pipeline, from_step, "--from")
        chosen &= {from_step} | _reachable(pipeline.downstream_of, from_step)
        label.append(f"--from {from_step}")
    if to_step is not None:
        _check_name(pipeline, to_step, "--to")
        chosen &= {to_step} | _reachable(pipeline.upstream_of, to_step)
        label.append(f"--to {to_step}")
    text = " ".join(label)
    if not chosen:
        raise FlowyError(
            f"{text} selects no step of pipeline {pipeline.name!r}: --from keeps a step and "
            "what is downstream of it, --to a step and what is upstream of it, --only the steps "
            "named, and together only the steps all of them keep. Steps, in run order: "
            f"{', '.join(pipeline.order)}."
        )
    return Selection(frozenset(chosen), text)


def _reachable(edges: Mapping[str, Iterable[str]], start: str) -> set[str]:
    """Every step reachable from ``start`` along ``edges`` (upstream_of or downstream_of).

    Plain Python on the pipeline's own adjacency: selecting steps needs no
    networkx import, which costs start-up time (and runs after the user's
    pipeline file is importable, where a file named like a stdlib module would
    shadow what networkx imports).
    """
    seen: set[str] = set()
    todo = list(edges[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(edges[name])
    return seen


def _check_name(pipeline: PipelineGraph, name: str, option: str) -> None:
    if name in pipeline.steps:
        return
    close = difflib.get_close_matches(name, list(pipeline.steps), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise FlowyError(
        f"{option} {name}: pipeline {pipeline.name!r} has no step {name!r}.{hint} "
        f"Its steps, in run order: {', '.join(pipeline.order)}."
    )


def provide_unselected(run: RunPlanner, selection: Selection) -> None:
    """Find the outputs of the unselected steps the selected ones read, before anything runs.

    Raises FlowyError (and nothing has been recorded) when one of them has
    neither a matching cache entry nor a completed run that recorded it.
    """
    pipeline = run.pipeline
    run.selection = selection
    wanted: set[str] = set()  # what the selected steps read, directly or not
    for name in selection.steps:
        wanted |= _reachable(pipeline.upstream_of, name)
    missing: list[str] = []
    for name in pipeline.order:
        if name in selection.steps or name not in wanted:
            continue
        readers = sorted(d for d in pipeline.downstream_of[name] if d in selection.steps)
        step = pipeline.steps[name]
        refs = _from_cache(run, name) or _from_latest_run(run, name)
        if refs is not None:
            run.outputs.update(refs)
            run.provided.add(name)
        elif readers:
            read = {i for r in readers for i in pipeline.inputs[r]}
            needed = [o for o in step.outputs if o in read]
            missing.append(
                f"step {readers[0]!r} needs {', '.join(repr(o) for o in needed)} from step "
                f"{name!r}, which is not selected and has no cached or recorded output"
            )
    if missing:
        raise FlowyError(
            f"Cannot run {selection.label} of pipeline {pipeline.name!r}: "
            + "; ".join(missing)
            + ". Run the full pipeline once, or widen the selection to include those steps."
        )


def _from_cache(run: RunPlanner, name: str) -> dict[str, ArtifactRef] | None:
    """The step's outputs from a cache entry for its key now, if its inputs are known."""
    step = run.pipeline.steps[name]
    if not all(u in run.provided for u in run.pipeline.upstream(name)):
        return None
    task = run.task_for(step)
    parts = run.cache_parts(step, task)
    if parts is None:
        return None
    key = run.step_key(step, task, parts)
    hit = run.cache_hit(step, key) if key is not None else None
    return hit[1] if hit is not None else None


def _from_latest_run(run: RunPlanner, name: str) -> dict[str, ArtifactRef] | None:
    """The step's outputs from the newest run in which it completed, checksums verified."""
    step = run.pipeline.steps[name]
    for earlier in run.store.list_runs(pipeline=run.pipeline.name, limit=RECENT_RUNS):
        for rec in run.store.get_step_runs(earlier.run_id):
            if rec.step != name or rec.status not in (R.COMPLETED, R.CACHED):
                continue
            # Its outputs, with the elements of those stored element by element for a map
            # (items[3]); not the files it logged.
            kept = {n: a for n, a in rec.outputs.items() if output_of(n, step.outputs)}
            refs = _verified(run, kept)
            if refs is not None and provides(step, refs):
                return refs
    return None


def _verified(run: RunPlanner, outputs: dict[str, str]) -> dict[str, ArtifactRef] | None:
    refs: dict[str, ArtifactRef] = {}
    for output, artifact_id in outputs.items():
        try:
            ref = run.store.get_artifact(artifact_id)
        except FlowyError:
            return None
        if not run.readable(ref):
            return None
        refs[output] = attrs.evolve(ref, name=output)
    return refs

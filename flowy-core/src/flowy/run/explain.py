"""``flowy cache explain``: would each step hit the cache, and if not, why not?

This walks the pipeline in topological order and, for each step, computes
its cache key exactly as a run would, by driving the engine's own planner
(:class:`flowy.run.planner.RunPlanner`: ``task_for``, ``cache_parts`` and ``cache_hit``)
rather than a copy of its rules, so the explanation cannot drift from the
behaviour. Upstream steps that would hit supply their cached artifacts as the
inputs of the steps after them; when an upstream step will re-run, its output
is not known yet, and the explanation says so.

A miss is explained against the step's closest cache entry (the one whose key
parts differ least from the key a run would use now, the newest among equals;
see :func:`_closest_entry`), not merely the newest: after runs with ``n=1``
and ``n=2``, a code change explained for ``n=1`` is a code change, not also a
parameter change. It says which key parts changed, and, for ``input_hash``,
which of the step's own parameters (never values logged with ``log_params``)
or input artifacts differ. Nothing is
written: ``MetadataStore.lookup_cache`` is a pure read (the engine counts hits
separately, with ``record_cache_hit``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowy.artifacts.checksums import short
from flowy.run.caching import combine

if TYPE_CHECKING:
    from flowy.kernel.contracts import MetadataStore
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.kernel.records import CacheEntry, StepTask
    from flowy.run.pipeline import Pipeline

HIT = "hit"
MISS = "miss"
MAYBE = "maybe"  # an upstream step re-runs; its output decides
UNCACHED = "uncached"
SKIPPED = "skipped"

#: What a change in each built-in key part means, in words.
PART_MEANING = {
    "code_hash": "the step's code (or user code it calls) changed",
    "input_hash": "an input artifact or a parameter value changed",
}


@attrs.define
class StepExplanation:
    """The verdict for one step and the reasons behind it."""

    step: str
    verdict: str
    reason: str
    changed: list[str] = attrs.field(factory=list)
    details: list[str] = attrs.field(factory=list)
    key: str | None = None
    previous_key: str | None = None
    previous_run: str | None = None

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def explain_cache(
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    stack: str | None = None,
    plugins: FlowyPlugins | None = None,
    project: Path | None = None,
) -> list[StepExplanation]:
    """For each step in topological order, whether a run now would hit the cache."""
    from flowy.kernel.config import load_settings, project_root
    from flowy.kernel.plugins import create_plugin_manager
    from flowy.run.planner import RunPlanner
    from flowy.stacks.resolution import resolve_stack

    context = pipeline.context_for(params or {})
    pipeline.check_params(context)
    project = project or project_root()
    plugins = plugins or create_plugin_manager()
    resolved = resolve_stack(stack, plugins, project)
    try:
        run = RunPlanner(
            pipeline=pipeline,
            stack=resolved,
            plugins=plugins,
            context=context,
            no_cache=False,
            allow_pickle=bool(load_settings(project).get("allow_pickle")),
            project=project,
        )
        return [_explain_step(run, name, run.store) for name in pipeline.order]
    finally:
        resolved.close()


def _explain_step(run: Any, name: str, store: MetadataStore) -> StepExplanation:
    pipeline = run.pipeline
    step = pipeline.steps[name]
    verdicts: dict[str, str] = run.status
    upstream = pipeline.upstream(name)
    skipped = [u for u in upstream if verdicts.get(u) == SKIPPED]
    if skipped:
        return _settle(run, name, SKIPPED, f"upstream step {skipped[0]!r} would be skipped")
    if step.when is not None and not step.when(run.context):
        return _settle(run, name, SKIPPED, "its `when` condition is false for these parameters")
    if not step.cache:
        return _settle(run, name, UNCACHED, "caching is off for this step (@step(cache=False))")
    previous = store.last_cache_entry(pipeline.name, name)
    recomputed = [u for u in upstream if verdicts.get(u) != HIT]
    if recomputed:
        return _explain_pending(run, name, recomputed, previous)

    task: StepTask = run.task_for(step)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = run.cache_parts(step, task)
    if parts is None:
        why = str(caught[-1].message) if caught else "a key part could not be computed"
        return _settle(run, name, UNCACHED, why)
    key = combine(step.name, step.outputs, parts)
    hit = run.cache_hit(step, key)
    if hit is not None:
        entry, refs = hit
        run.outputs.update(refs)
        return _settle(
            run,
            name,
            HIT,
            f"cached by run {entry.run_id[:12]}",
            key=key,
            previous=entry,
        )
    previous = _closest_entry(store, pipeline.name, name, parts, previous)
    if previous is None:
        return _settle(
            run, name, MISS, "never cached: no earlier run of this step completed", key=key
        )
    if previous.key == key:
        return _settle(
            run,
            name,
            MISS,
            "the cached artifacts are missing, corrupted or from another materializer version",
            key=key,
            previous=previous,
        )
    changed = sorted(
        p
        for p in set(parts) | set(previous.components)
        if parts.get(p) != previous.components.get(p)
    )
    details = _input_details(store, previous, task, step) if "input_hash" in changed else []
    reason = "; ".join(PART_MEANING.get(p, f"{p} changed") for p in changed)
    return _settle(
        run,
        name,
        MISS,
        f"{reason} since the last cached run",
        changed=changed,
        details=details,
        key=key,
        previous=previous,
    )


def _explain_pending(
    run: Any, name: str, recomputed: list[str], previous: CacheEntry | None
) -> StepExplanation:
    """An upstream step re-runs: the input is unknown, but code changes still show."""
    from flowy.run.caching import code_hash

    step = run.pipeline.steps[name]
    inputs = ", ".join(repr(u) for u in recomputed)
    reason = (
        f"input from {inputs} will be recomputed; this step re-runs unless that output is "
        "byte-identical to the cached one"
    )
    changed: list[str] = []
    previous = _closest_entry(
        store_of(run), run.pipeline.name, name, {"code_hash": code_hash(step.fn)}, previous
    )
    if (
        previous is not None
        and "code_hash" in step.cache
        and previous.components.get("code_hash") != code_hash(step.fn)
    ):
        changed.append("code_hash")
        reason = f"{PART_MEANING['code_hash']}, and input from {inputs} will be recomputed"
        return _settle(run, name, MISS, reason, changed=changed, previous=previous)
    return _settle(run, name, MAYBE, reason, previous=previous)


def store_of(run: Any) -> MetadataStore:
    """The metadata store of a :class:`flowy.run.planner.RunPlanner`."""
    store: MetadataStore = run.store
    return store


#: How many recent runs of the pipeline are searched for the closest cache entry.
CANDIDATE_RUNS = 50


def _closest_entry(
    store: MetadataStore,
    pipeline: str,
    step: str,
    parts: Mapping[str, str],
    newest: CacheEntry | None,
) -> CacheEntry | None:
    """The cache entry of ``step`` whose key parts differ least from ``parts``.

    The candidates are the entries of the step runs of the pipeline's recent runs
    (and the newest entry); among entries that differ equally the newest wins, so
    with one entry this is the newest entry.
    """
    if newest is None:
        return None
    candidates: dict[str, CacheEntry] = {newest.key: newest}
    for record in store.list_runs(pipeline=pipeline, limit=CANDIDATE_RUNS):
        for step_run in store.get_step_runs(record.run_id):
            key = step_run.cache_key
            if step_run.step != step or not key or key in candidates:
                continue
            entry = store.lookup_cache(key)
            if entry is not None:
                candidates[key] = entry

    def distance(entry: CacheEntry) -> tuple[int, float]:
        differing = sum(entry.components.get(p) != v for p, v in parts.items())
        return differing, -entry.created_at

    return min(candidates.values(), key=distance)


def _input_details(
    store: MetadataStore, previous: CacheEntry, task: StepTask, step: Any
) -> list[str]:
    """Which of the step's parameters and inputs differ from the run that made ``previous``.

    Only the step function's own parameters are compared: a step run's record also
    holds the values it logged with ``log_params``, which are results, not key parts.
    """
    try:
        before = next(s for s in store.get_step_runs(previous.run_id) if s.step == previous.step)
    except StopIteration:
        return []
    details: list[str] = []
    missing = object()  # a parameter left to the function's default is not passed
    own = set(step.signature.parameters) - set(task.inputs)
    for param in sorted((set(before.params) | set(task.params)) & own):
        old, new = before.params.get(param, missing), task.params.get(param, missing)
        if old != new:
            shown = ["its default" if v is missing else repr(v) for v in (old, new)]
            details.append(f"parameter {param}: {shown[0]} -> {shown[1]}")
    for input_name, ref in sorted(task.inputs.items()):
        old_id = before.inputs.get(input_name)
        if old_id is None:
            details.append(f"input {input_name}: new")
            continue
        try:
            old_ref = store.get_artifact(old_id)
        except Exception:  # noqa: BLE001 - a pruned artifact only loses detail
            continue
        if old_ref.checksum != ref.checksum:
            details.append(
                f"input {input_name}: content changed "
                f"({short(old_ref.checksum, 10)} -> {short(ref.checksum, 10)})"
            )
        elif old_ref.materializer_version != ref.materializer_version:
            details.append(f"input {input_name}: materializer {ref.materializer} version changed")
    return details


def _settle(
    run: Any,
    name: str,
    verdict: str,
    reason: str,
    *,
    changed: list[str] | None = None,
    details: list[str] | None = None,
    key: str | None = None,
    previous: CacheEntry | None = None,
) -> StepExplanation:
    run.status[name] = verdict
    return StepExplanation(
        step=name,
        verdict=verdict,
        reason=reason,
        changed=changed or [],
        details=details or [],
        key=key,
        previous_key=previous.key if previous is not None else None,
        previous_run=previous.run_id if previous is not None else None,
    )


__all__ = ["HIT", "MAYBE", "MISS", "SKIPPED", "UNCACHED", "StepExplanation", "explain_cache"]

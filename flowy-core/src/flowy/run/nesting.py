"""Pipelines as steps of other pipelines, flattened into ordinary steps when the outer
pipeline is built.

``Pipeline("train", [load, prep, fit])`` nests the pipeline ``prep`` as it is;
``prep.as_step(name=..., inputs=..., outputs=..., params=...)`` says how it is
wired. Building the outer pipeline replaces the nested one by its steps, each an
ordinary :class:`~flowy.run.steps.Step`, so the engine, the cache, the executors,
the records and ``--only/--from/--to`` need nothing new. The rules
(docs/dynamic.md, "Pipelines as steps"):

* step ``S`` of a pipeline nested as ``N`` is the step ``N.S`` (to any depth:
  ``N.M.S``); nest names hold no ``.`` (:data:`flowy.kernel.names.NESTED`), so a
  step's name says where it is nested;
* outputs named by ``outputs=`` (a list keeps their names, a mapping renames
  them) are the outer pipeline's; without ``outputs=``, the nested pipeline's
  final outputs (those none of its steps reads) are. Every other output is the
  nested pipeline's own, renamed ``N__output``, so nesting a pipeline twice
  collides on nothing but what both export;
* a parameter of the nested pipeline (a name its steps take that none of them
  makes) is the outer pipeline's name of the same name (an outer output of that
  name is read as an input, else the outer context gives it); ``inputs=`` wires it
  to an outer output of another name (which must exist), ``params=`` to an outer
  parameter of another name;
* the nested pipeline's context values are defaults the outer context overrides.

A flattened step's cache key depends on its own name, code, inputs and parameters
only (:mod:`flowy.run.caching`), never on the rest of the outer pipeline.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from flowy.kernel import names
from flowy.kernel.errors import PipelineDefinitionError
from flowy.run.context import Context
from flowy.run.renamed import renamed
from flowy.run.steps import Step

#: Between a nest's name and its steps' names: ``prep.clean``.
STEP_SEPARATOR = "."
#: Between a nest's name and the names of the outputs it keeps to itself: ``prep__features``.
OUTPUT_SEPARATOR = "__"


@attrs.frozen
class NestedPipeline:
    """A pipeline used as a step of another, and how it is wired; see :func:`nested`."""

    pipeline: Any
    """The nested :class:`~flowy.run.pipeline.Pipeline` (built, so already flat itself)."""
    name: str
    """The nest's name: its steps are ``<name>.<step>``."""
    inputs: Mapping[str, str]
    """Its parameter -> the outer output that feeds it."""
    outputs: Mapping[str, str] | None
    """Its output -> the outer pipeline's name for it; None: its final outputs, same names."""
    params: Mapping[str, str]
    """Its parameter -> the outer parameter that gives it."""


@attrs.frozen
class Flattened:
    """A pipeline's steps with every nested pipeline replaced by its steps."""

    steps: list[Any]
    context: Context
    """The outer context over the nested pipelines' context values (the defaults)."""
    nests: dict[str, str]
    """Nest prefix (``prep``, ``prep.inner``) -> the name of the pipeline nested there."""


def nested(
    pipeline: Any,
    name: str | None = None,
    *,
    inputs: Mapping[str, str] | None = None,
    outputs: Sequence[str] | Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> NestedPipeline:
    """``pipeline`` as a step of another (``Pipeline.as_step``), its wiring checked now."""
    name = pipeline.name if name is None else name
    where = f"Pipeline {pipeline.name!r} as a step: "
    names.check(names.NESTED, name, error=PipelineDefinitionError, where=where)
    takes = sorted(pipeline.known_params)
    wired = {o: _mapping(where, o, m) for o, m in (("inputs", inputs), ("params", params))}
    for option, mapping in wired.items():
        unknown = sorted(set(mapping) - set(takes))
        if unknown:
            raise PipelineDefinitionError(
                f"{where}{option}= names {', '.join(map(repr, unknown))}, which pipeline "
                f"{pipeline.name!r} does not take. It takes: {', '.join(takes) or 'nothing'} "
                "(what its own steps make cannot be given from outside)."
            )
    both = sorted(set(wired["inputs"]) & set(wired["params"]))
    if both:
        raise PipelineDefinitionError(
            f"{where}{both[0]!r} is in both inputs= and params=; an outer output (inputs=) "
            "or an outer parameter (params=) gives it, not both."
        )
    return NestedPipeline(
        pipeline, name, wired["inputs"], _outputs(where, pipeline, outputs), wired["params"]
    )


def _mapping(where: str, option: str, value: Mapping[str, str] | None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise PipelineDefinitionError(
            f"{where}{option}= must map names to names ({{'inner': 'outer'}}), got {value!r}"
        )
    return dict(value)


def _outputs(
    where: str, pipeline: Any, outputs: Sequence[str] | Mapping[str, str] | None
) -> dict[str, str] | None:
    if outputs is None:
        return None
    if isinstance(outputs, str):
        raise PipelineDefinitionError(
            f"{where}outputs must be a list or a mapping of names, got the string {outputs!r}; "
            f"write outputs=[{outputs!r}]."
        )
    chosen = _mapping(where, "outputs", outputs) if isinstance(outputs, Mapping) else None
    if chosen is None:
        chosen = {o: o for o in outputs}
    unknown = sorted(set(chosen) - set(pipeline.producer))
    if unknown:
        raise PipelineDefinitionError(
            f"{where}outputs= names {', '.join(map(repr, unknown))}, which pipeline "
            f"{pipeline.name!r} does not make. Its outputs: "
            f"{', '.join(sorted(pipeline.producer)) or 'none'}."
        )
    for outer in chosen.values():
        names.check(names.OUTPUT, outer, error=PipelineDefinitionError, where=where)
    if len(set(chosen.values())) != len(chosen):
        raise PipelineDefinitionError(f"{where}outputs= gives two outputs one name: {chosen}")
    return chosen


def as_nested(item: Any) -> NestedPipeline | None:
    """``item`` as a nested pipeline: itself, a Pipeline's default wiring, or None for a step."""
    if isinstance(item, NestedPipeline):
        return item
    as_step = getattr(item, "as_step", None)
    if isinstance(item, Step) or not callable(as_step):
        return None
    found = as_step()
    return found if isinstance(found, NestedPipeline) else None


def flatten(outer: str, items: Sequence[Any], context: Context) -> Flattened:
    """``items`` (steps, pipelines, :class:`NestedPipeline`) as steps; ``context`` with the
    nested pipelines' defaults under it. Raises PipelineDefinitionError for a pipeline nested
    in itself, two nests of one name, an input wired to an output nothing makes, an output
    two steps make, or two nested pipelines giving one parameter different defaults."""
    steps: list[Any] = []
    nests: dict[str, str] = {}
    found: list[NestedPipeline] = []
    for item in items:
        nest = as_nested(item)
        if nest is None:
            steps.append(item)
            continue
        _check_not_itself(outer, nest)
        if nest.name in nests:
            raise PipelineDefinitionError(
                f"Pipeline {outer!r} nests two pipelines as {nest.name!r}; name one otherwise "
                f"with {nest.pipeline.name}.as_step(name=...)."
            )
        nests[nest.name] = nest.pipeline.name
        nests.update({f"{nest.name}.{k}": v for k, v in nest.pipeline.nests.items()})
        steps.extend(_steps_of(outer, nest))
        found.append(nest)
    if not found:
        return Flattened(steps, context, {})
    _check_outputs(outer, steps, found)
    return Flattened(steps, _with_defaults(outer, context, found), nests)


def _check_not_itself(outer: str, nest: NestedPipeline) -> None:
    inner = nest.pipeline
    path = [nest.name] if inner.name == outer else []
    path += [f"{nest.name}.{k}" for k, v in inner.nests.items() if v == outer]
    if path:
        raise PipelineDefinitionError(
            f"Pipeline {outer!r} is nested in itself (as {path[0]!r}): a pipeline cannot "
            "contain itself, directly or through another. Give the inner pipeline another "
            "name if it is a different pipeline, or use its steps instead of nesting it."
        )


def _steps_of(outer: str, nest: NestedPipeline) -> list[Step]:
    """The nested pipeline's steps, renamed into the outer pipeline."""
    inner = nest.pipeline
    exported = dict(nest.outputs) if nest.outputs is not None else final_outputs(inner)

    def output(name: str) -> str:
        return exported.get(name, f"{nest.name}{OUTPUT_SEPARATOR}{name}")

    def param(name: str) -> str:
        return nest.inputs.get(name) or nest.params.get(name) or name

    steps = []
    for s in inner.steps.values():
        outer_names = {i: output(i) for i in inner.inputs[s.name]}
        outer_names.update({p: param(p) for p in inner.params[s.name]})
        steps.append(_renamed_step(outer, nest, s, outer_names, output))
    return steps


def final_outputs(pipeline: Any) -> dict[str, str]:
    """Outputs none of ``pipeline``'s steps reads, and not kept to a pipeline nested in it."""
    read = {i for ins in pipeline.inputs.values() for i in ins}
    read |= {b[0] for s in pipeline.steps.values() if (b := getattr(s, "branch", None))}
    return {
        o: o
        for o, step in pipeline.producer.items()
        if o not in read
        and not any(
            step.startswith(n + STEP_SEPARATOR) and o.startswith(n + OUTPUT_SEPARATOR)
            for n in pipeline.nests
        )
    }


def _renamed_step(
    outer: str,
    nest: NestedPipeline,
    s: Step,
    outer_names: dict[str, str],
    output: Callable[[str], str],
) -> Step:
    """A copy of ``s`` (every option kept) named, reading and making the outer names.

    ``outer_names`` renames its parameters, ``output`` any output of the nested pipeline.
    """
    where = f"Pipeline {outer!r}: nested pipeline {nest.name!r}: "
    outputs = [output(o) for o in s.outputs]
    new = copy.copy(s)
    new.name = names.check(
        names.STEP, nest.name + STEP_SEPARATOR + s.name, error=PipelineDefinitionError, where=where
    )
    for out in outputs:
        names.check(names.OUTPUT, out, error=PipelineDefinitionError, where=where)
    new.outputs = outputs
    taken: dict[str, str] = {}
    parameters = []
    for p in s.signature.parameters.values():
        name = outer_names[p.name]
        if name in taken:
            raise PipelineDefinitionError(
                f"{where}step {s.name!r} would take both {taken[name]!r} and {p.name!r} as "
                f"{name!r}; wire them to different outer names with as_step(inputs=..., "
                "params=...)."
            )
        taken[name] = p.name
        try:
            parameters.append(p.replace(name=name))
        except ValueError:
            raise PipelineDefinitionError(
                f"{where}step {s.name!r} would take {p.name!r} as {name!r}, which is not a "
                "Python identifier; wire it to an identifier with as_step(inputs=..., "
                "outputs=..., params=...)."
            ) from None
    new.signature = s.signature.replace(parameters=parameters)
    new.fn = renamed(s.fn, s.ref, {outer_names[p]: p for p in s.signature.parameters})
    if s.declared_inputs is not None:
        new.declared_inputs = [outer_names[i] for i in s.declared_inputs] + [
            outer_names[p] for p in s.signature.parameters if p in nest.inputs
        ]
    new.register_model = {outputs[s.outputs.index(o)]: m for o, m in s.register_model.items()}
    mapped = getattr(s, "map", None)
    if mapped is not None:
        new.map = outer_names[mapped]  # names an input, renamed like the others
    branch = getattr(s, "branch", None)
    if branch is not None:
        new.branch = (output(branch[0]), branch[1])  # names an upstream output
    if s.when is not None and nest.params:
        new.when = _InnerWhen(s.when, dict(nest.params))
    return new


class _InnerWhen:
    """A nested step's ``when``, shown the context by the nested pipeline's names."""

    def __init__(self, when: Any, names: dict[str, str]) -> None:
        self.when = when
        self.names = names  # its parameter -> the outer parameter

    def __call__(self, context: Context) -> bool:
        own = {p: context[o] for p, o in self.names.items() if o in context}
        return bool(self.when(context.child(**own) if own else context))


def _check_outputs(outer: str, steps: list[Any], found: list[NestedPipeline]) -> None:
    """Outputs made twice and inputs wired to nothing, named in nesting's own terms."""
    producer: dict[str, str] = {}
    for s in steps:
        for out in getattr(s, "outputs", ()):
            if out in producer and "." in producer[out] + getattr(s, "name", ""):
                raise PipelineDefinitionError(
                    f"Pipeline {outer!r}: output {out!r} is made by both {producer[out]!r} and "
                    f"{s.name!r}. Give a nested pipeline's output another name in the outer "
                    f"pipeline with as_step(outputs={{{out!r}: 'other_name'}}), or rename the "
                    "step's output with @step(outputs=[...])."
                )
            producer.setdefault(out, s.name)
    for nest in found:
        for inner, source in nest.inputs.items():
            if source not in producer:
                raise PipelineDefinitionError(
                    f"Pipeline {outer!r}: nested pipeline {nest.name!r} takes {inner!r} from "
                    f"{source!r}, but no step of {outer!r} makes {source!r}. Outputs "
                    f"available: {', '.join(sorted(producer)) or 'none'}; wire {inner!r} to "
                    "one of them (as_step(inputs=...)) or add the step that makes it."
                )


def _with_defaults(outer: str, context: Context, found: list[NestedPipeline]) -> Context:
    """``context`` over the nested pipelines' context values (renamed as their parameters)."""
    defaults: dict[str, Any] = {}
    given_by: dict[str, str] = {}
    for nest in found:
        for name, value in nest.pipeline.context.items():
            key = nest.params.get(name, name)
            if key in context or name in nest.inputs:
                continue
            if key in defaults and not _same(defaults[key], value):
                raise PipelineDefinitionError(
                    f"Pipeline {outer!r}: nested pipelines {given_by[key]!r} and {nest.name!r} "
                    f"give parameter {key!r} different values ({defaults[key]!r} and "
                    f"{value!r}). Set it in {outer!r}'s context, or give one its own name with "
                    f"as_step(params={{{name!r}: '{nest.name}_{name}'}})."
                )
            defaults[key] = value
            given_by.setdefault(key, nest.name)
    return Context(**defaults).child(**context.to_dict()) if defaults else context


def _same(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # noqa: BLE001 - an array's == is not a bool: treat as different
        return False

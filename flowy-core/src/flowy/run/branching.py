"""Choosing a branch at run time: ``@step(branch=("route", "fast"))``.

``when=`` decides from the run's parameters, before anything runs. A branch
decides from a value a step computed: the step runs only when the upstream
output it names equals the value given (or is one of the values given as a
set, list or tuple). The orchestrator reads that output (it should be small: a
string, a number) when the step is ready; a step whose branch is not chosen is
recorded ``skipped`` with the value that was chosen instead, and so is what
follows it.

Branches join again at a step whose inputs from the branches have defaults: an
input whose producer was left out by a branch (or a false ``when``) takes its
default, and the step runs. An input from a step that failed, or was left out
of a partial run, still skips the step as before.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowy.run.graph import PipelineGraph
    from flowy.run.steps import Step


def chosen(expected: Any, value: Any) -> bool:
    """Whether ``value`` picks the branch that expects ``expected``."""
    if several(expected):
        return value in expected
    return bool(value == expected)


def several(expected: Any) -> bool:
    """Whether a branch names several values (a set, list or tuple), not one."""
    return isinstance(expected, Collection) and not isinstance(expected, str | bytes)


def shown(expected: Any) -> list[str]:
    """The value(s) a branch expects, as ``repr``s (sorted when several)."""
    return sorted(map(repr, expected)) if several(expected) else [repr(expected)]


def branch_reason(step: Step, value_of: Callable[[str], Any]) -> str | None:
    """Why ``step``'s branch was not chosen, or None when it was (or it has none);
    ``value_of(output)`` loads an upstream output's value (the run's planner does)."""
    if step.branch is None:
        return None
    output, expected = step.branch
    value = value_of(output)
    if chosen(expected, value):
        return None
    return f"branch not chosen: {output} is {value!r}, not {' or '.join(shown(expected))}"


def defaults_cover(pipeline: PipelineGraph, step: Step, upstream: str) -> bool:
    """Whether every input ``step`` takes from ``upstream`` has a default to fall back on."""
    taken = [i for i in pipeline.inputs[step.name] if pipeline.producer[i] == upstream]
    return bool(taken) and all(step.has_default(i) for i in taken)

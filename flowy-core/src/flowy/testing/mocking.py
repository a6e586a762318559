"""Replace steps of a pipeline with fixed outputs, for testing pipelines in isolation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowy.kernel.errors import PipelineDefinitionError
from flowy.run.pipeline import Pipeline
from flowy.run.steps import Step


def mock_step(pipeline: Pipeline, name: str, value: Any) -> Pipeline:
    """A copy of ``pipeline`` where step ``name`` returns ``value`` without running.

    ``value`` is what the step function would return: the single output, or a
    tuple/dict for a step with several outputs. The mock takes no inputs and is
    never cached, so downstream steps see exactly ``value``.
    """
    if name not in pipeline.steps:
        raise PipelineDefinitionError(
            f"Cannot mock step {name!r}: pipeline {pipeline.name!r} has steps "
            f"{', '.join(pipeline.steps)}."
        )
    original = pipeline.steps[name]

    def mocked() -> Any:
        return value

    replacement = Step(mocked, name=name, outputs=original.outputs, cache=False)
    replacement.split_outputs(value)  # fail now, not mid-run, if value has the wrong shape
    steps = [replacement if s.name == name else s for s in pipeline.steps.values()]
    return Pipeline(pipeline.name, steps, pipeline.context, experiment=pipeline.experiment)


def mock_steps(pipeline: Pipeline, values: Mapping[str, Any]) -> Pipeline:
    """Mock several steps at once (``{step name: value}``)."""
    for name, value in values.items():
        pipeline = mock_step(pipeline, name, value)
    return pipeline

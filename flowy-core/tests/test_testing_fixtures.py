"""The pytest plugin that pipeline and plugin authors use (loaded by entry point)."""

from __future__ import annotations

import pytest
from flowy import Pipeline, step
from flowy.kernel.errors import PipelineDefinitionError
from flowy.testing.mocking import mock_step


@step
def download():
    raise ConnectionError("no network in tests")


@step
def clean(download):
    return [x for x in download if x is not None]


@step(outputs=["total", "count"])
def summarize(clean):
    return sum(clean), len(clean)


PIPELINE = Pipeline("etl", [download, clean, summarize])


def test_flowy_run_with_a_mocked_step(flowy_run, flowy_project):
    result = flowy_run(PIPELINE, mocks={"download": [1, None, 2]})
    assert result.status == "completed"
    assert (result["total"], result["count"]) == (3, 2)
    assert (flowy_project / ".flowy" / "metadata.db").exists()


def test_unmocked_pipeline_really_runs_the_step(flowy_run):
    result = flowy_run(PIPELINE)
    assert result.steps["download"].status == "failed"
    assert result.steps["summarize"].status == "skipped"


def test_mock_step_checks_names_and_output_shapes():
    with pytest.raises(PipelineDefinitionError, match="has steps download, clean, summarize"):
        mock_step(PIPELINE, "nope", 1)
    with pytest.raises(Exception, match="declares 2 outputs"):
        mock_step(PIPELINE, "summarize", 5)

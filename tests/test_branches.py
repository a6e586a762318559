"""``@step(branch=(output, value))``: a step computes which branch runs (issue 14).

Real runs on the local stack: the branch not chosen is recorded skipped with
the value that was chosen instead, what follows it is skipped, and a join step
whose inputs from the branches have defaults runs with what the chosen branch
made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.errors import PipelineDefinitionError, StepDefinitionError
from flowy.run.engine import run_pipeline
from flowy.stacks.resolution import resolve_stack
from flowy.testing._executor_support import load_path_module

ROUTED = """
from flowy import Pipeline, step

@step
def rows(n: int) -> int:
    return n

@step
def route(rows: int) -> str:
    return "small" if rows < 100 else "large"

@step(branch=("route", "small"), outputs=["small_model"])
def in_memory(rows: int) -> str:
    return f"in memory on {rows}"

@step(branch=("route", {"large", "huge"}), outputs=["large_model"])
def distributed(rows: int) -> str:
    return f"distributed on {rows}"

@step
def polish(large_model: str) -> str:
    return large_model + ", polished"

@step
def report(route: str, small_model: str | None = None, large_model: str | None = None) -> str:
    return f"{route}: {small_model or large_model}"

pipeline = Pipeline("routed", [rows, route, in_memory, distributed, polish, report])
"""


def records(project: Path, plugins: Any, run_id: str) -> dict[str, Any]:
    stack = resolve_stack("local", plugins, project)
    try:
        return {r.step: r for r in stack.metadata_store.get_step_runs(run_id)}
    finally:
        stack.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_the_branch_a_step_computes_runs_and_the_other_is_skipped_with_the_reason(
    workers: int, project: Path, plugins: Any, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, f"routed_{workers}", ROUTED)
    small = run_pipeline(
        module.pipeline,
        params={"n": 10},
        plugins=plugins,
        executor_options={"max_workers": workers},
    )
    assert small.ok
    assert small["report"] == "small: in memory on 10"
    got = records(project, plugins, small.run_id)
    assert got["in_memory"].status == "completed"
    assert got["distributed"].status == "skipped"
    assert got["distributed"].error == (
        "skipped: branch not chosen: route is 'small', not 'huge' or 'large'"
    )
    assert got["polish"].status == "skipped"  # what follows a branch not chosen
    assert got["report"].status == "completed"  # the join: its defaults stand in

    large = run_pipeline(module.pipeline, params={"n": 1000}, plugins=plugins)
    assert large["report"] == "large: distributed on 1000"
    got = records(project, plugins, large.run_id)
    assert got["in_memory"].error == "skipped: branch not chosen: route is 'large', not 'small'"
    assert got["polish"].status == "completed"


FAILING_BRANCH = """
from flowy import Pipeline, step

@step
def route() -> str:
    return "a"

@step(branch=("route", "a"), outputs=["made"])
def branch_a() -> str:
    raise RuntimeError("broken branch")

@step
def join(made: str = "default") -> str:
    return made

pipeline = Pipeline("failing_branch", [route, branch_a, join])
"""


def test_a_join_after_a_failed_branch_is_skipped_not_given_its_default(
    project: Path, plugins: Any, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, "failing_branch", FAILING_BRANCH)
    result = run_pipeline(module.pipeline, plugins=plugins)
    assert result.status == "failed"
    got = records(project, plugins, result.run_id)
    assert got["join"].status == "skipped"
    assert got["join"].error == "skipped: upstream step 'branch_a' failed"


def test_branch_options_are_checked_when_the_pipeline_is_built() -> None:
    from flowy import Pipeline, step

    with pytest.raises(StepDefinitionError, match=r"branch='route' must be a pair"):
        step(branch="route", name="b")(lambda: 1)

    @step(branch=("nowhere", "x"))
    def lonely() -> int:
        return 1

    with pytest.raises(PipelineDefinitionError, match="branches on 'nowhere', which no other step"):
        Pipeline("lonely", [lonely])


def test_the_dag_view_shows_the_branch_edge(tmp_path: Path) -> None:
    module = load_path_module(tmp_path, "routed_view", ROUTED)
    assert module.pipeline.graph.edges["route", "distributed"]["outputs"] == ["route"]
    assert module.pipeline.upstream("in_memory") == ["route", "rows"]


def test_flowy_show_marks_maps_and_branches(tmp_path: Path) -> None:
    from flowy.run.dag_view import render

    module = load_path_module(tmp_path, "routed_show", ROUTED)
    text = render(module.pipeline, "text")
    assert "distributed(rows) -> large_model  [branch: route in 'huge', 'large']" in text
    assert "in_memory(rows) -> small_model  [branch: route == 'small']" in text
    assert "route (branch) --> in_memory" in text
    assert "s_route -->|route (branch)| s_in_memory" in render(module.pipeline, "mermaid")

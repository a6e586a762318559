"""Pipelines as steps of other pipelines (issue 14): run, recorded, cached and selected.

One pipeline file nests the pipeline ``stats`` twice (as ``a`` and ``b``), and
``stats`` itself nests ``prep``: two levels, private outputs renamed apart, a
parameter shared (``factor``) and one renamed (``b_factor``). It runs for real
on the local executor (sequential and parallel) and on Dask with the same
results and lineage; records carry the nested names; a re-run and a run after an
unrelated change to the outer pipeline are served from the cache; the real
``flowy run --only a.prep.scale`` and ``flowy show`` work on nested names.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flowy.kernel.plugins import FlowyPlugins
from flowy.run.engine import run_pipeline
from flowy.stacks.resolution import resolve_stack
from flowy.testing._executor_support import load_path_module
from flowy.tracking.client import Client

Flowy = Callable[..., subprocess.CompletedProcess[str]]

SOURCE = """
from pathlib import Path
from flowy import Context, Pipeline, step


def mark(name):
    with open(Path(__file__).with_name("marks.txt"), "a") as f:
        f.write(name + "\\n")


@step
def load(n: int = 5) -> list:
    mark("load")
    return list(range(n))


@step
def clean(raw: list) -> list:
    mark("clean")
    return [x for x in raw if x % 2 == 0]


@step
def scale(clean: list, factor: int) -> list:
    mark("scale")
    return [x * factor for x in clean]


@step(outputs=["total", "count"])
def summarize(scale: list):
    mark("summarize")
    return sum(scale), len(scale)


@step
def report(a_total: int, b_total: int) -> int:
    mark("report")
    return a_total + b_total


prep = Pipeline("prep", [clean, scale], Context(factor=10))
stats = Pipeline("stats", [prep.as_step(outputs=["scale"]), summarize])
pipeline = Pipeline(
    "train",
    [
        load,
        stats.as_step("a", inputs={"raw": "load"}, outputs={"total": "a_total"}),
        stats.as_step(
            "b", inputs={"raw": "load"}, outputs={"total": "b_total"},
            params={"factor": "b_factor"},
        ),
        report,
    ],
    Context(b_factor=3),
)
"""

EXTRA = """

@step
def extra(load: list) -> int:
    mark("extra")
    return len(load)


bigger = Pipeline(
    "train",
    [
        load,
        extra,
        stats.as_step("a", inputs={"raw": "load"}, outputs={"total": "a_total"}),
        stats.as_step(
            "b", inputs={"raw": "load"}, outputs={"total": "b_total"},
            params={"factor": "b_factor"},
        ),
        report,
    ],
    Context(b_factor=3),
)
"""

NESTED_STEPS = {
    "a.prep.clean", "a.prep.scale", "a.summarize", "b.prep.clean", "b.prep.scale", "b.summarize",
}  # fmt: skip


def _lineage(project: Path, plugins: FlowyPlugins, run_id: str) -> dict[str, Any]:
    """Per step: status and its input and output names mapped to artifact checksums."""
    stack = resolve_stack("local", plugins, project)
    store = stack.metadata_store
    try:

        def checksum(artifact_id: str) -> str:
            return str(store.get_artifact(artifact_id).checksum)

        return {
            r.step: (
                r.status,
                {k: checksum(v) for k, v in r.inputs.items()},
                {k: checksum(v) for k, v in r.outputs.items()},
            )
            for r in store.get_step_runs(run_id)
        }
    finally:
        stack.close()


def test_the_nested_pipeline_is_flattened_with_nested_names(tmp_path: Path) -> None:
    module = load_path_module(tmp_path, "nested_shape", SOURCE)
    p = module.pipeline
    assert list(p.steps) == ["load", *sorted(NESTED_STEPS), "report"]
    assert p.nests == {"a": "stats", "a.prep": "prep", "b": "stats", "b.prep": "prep"}
    # Exported outputs keep (or take) the outer names; the rest are private to their nest.
    assert p.steps["a.summarize"].outputs == ["a_total", "a__count"]
    assert p.steps["b.prep.scale"].outputs == ["b__scale"]
    assert p.steps["a.prep.clean"].outputs == ["a__prep__clean"]
    assert p.inputs["a.prep.clean"] == ["load"]
    assert p.inputs["report"] == ["a_total", "b_total"]
    assert p.params["a.prep.scale"] == ["factor"] and p.params["b.prep.scale"] == ["b_factor"]
    # The nested pipeline's context gives defaults (renamed as its parameters); the outer wins.
    assert dict(p.context) == {"factor": 10, "b_factor": 3}
    # The nested pipelines are unchanged.
    assert list(module.stats.steps) == ["prep.clean", "prep.scale", "summarize"]
    assert list(module.prep.steps) == ["clean", "scale"]


@pytest.mark.slow
def test_same_results_and_lineage_on_every_executor(
    project: Path, all_plugins: FlowyPlugins, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, "nested_everywhere", SOURCE)
    runs: dict[str, tuple[str, dict[str, Any]]] = {
        "local-sequential": ("local", {"max_workers": 1}),
        "local-parallel": ("local", {"max_workers": 2}),
        "local-spawn": ("local", {"max_workers": 2, "start_method": "spawn"}),  # fresh imports
        "dask": ("dask", {"n_workers": 2}),
    }
    seen: dict[str, Any] = {}
    for label, (stack, options) in runs.items():
        result = run_pipeline(
            module.pipeline, stack=stack, plugins=all_plugins, project=project,
            executor_options=options, no_cache=True,
        )  # fmt: skip
        assert result.status == "completed", label
        assert (result["a_total"], result["b_total"], result["report"]) == (60, 18, 78), label
        seen[label] = _lineage(project, all_plugins, result.run_id)
    first = seen["local-sequential"]
    assert set(first) == {"load", "report", *NESTED_STEPS}
    assert all(status == "completed" for status, _, _ in first.values())
    assert set(first["a.prep.scale"][1]) == {"a__prep__clean"}
    assert set(first["b.summarize"][2]) == {"b_total", "b__count"}
    for label, got in seen.items():
        assert got == first, f"{label} differs from local-sequential"


def test_records_and_lineage_carry_the_nested_names(
    project: Path, plugins: FlowyPlugins, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, "nested_records", SOURCE)
    result = run_pipeline(module.pipeline, plugins=plugins, project=project)
    assert result.ok and result["report"] == 78
    with Client(plugins=plugins, project=project) as client:
        steps = {s.step: s for s in client.steps(result.run_id)}
        assert set(steps) == {"load", "report", *NESTED_STEPS}
        total = result.artifacts["a_total"].artifact_id
        graph = client.lineage(total, downstream=False)
        assert {n.step for n in graph.steps} >= {"load", "a.prep.clean", "a.prep.scale"}
        assert {n.step for n in graph.steps}.isdisjoint({"b.prep.clean", "b.summarize"})


def test_cache_hits_on_a_rerun_and_after_an_unrelated_outer_change(
    project: Path, plugins: FlowyPlugins, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, "nested_cache", SOURCE + EXTRA)
    marks = tmp_path / "marks.txt"
    first = run_pipeline(module.pipeline, plugins=plugins, project=project)
    assert first.ok
    assert sorted(marks.read_text().split()) == sorted(
        ["load", "report"] + ["clean", "scale", "summarize"] * 2
    )
    marks.unlink()

    again = run_pipeline(module.pipeline, plugins=plugins, project=project)
    assert {s.status for s in again.steps.values()} == {"cached"}
    assert not marks.exists()

    # The outer pipeline built again with one more step: every nested step is still the
    # same work (its key is its own code, inputs and parameters).
    bigger = run_pipeline(module.bigger, plugins=plugins, project=project)
    assert marks.read_text().split() == ["extra"]
    assert {bigger.steps[n].status for n in NESTED_STEPS} == {"cached"}
    marks.unlink()

    # A parameter of one nested copy re-runs that copy's steps that take it, and after.
    changed = run_pipeline(
        module.pipeline, plugins=plugins, project=project, params={"b_factor": 4}
    )
    assert changed["b_total"] == 24
    assert sorted(marks.read_text().split()) == ["report", "scale", "summarize"]
    assert changed.steps["b.prep.scale"].status == "completed"
    assert changed.steps["a.prep.scale"].status == "cached"


@pytest.fixture
def cli(
    tmp_path: Path, flowy_env: Callable[..., dict[str, str]], flowy_runner: Callable[..., Flowy]
) -> tuple[Path, Flowy]:
    """The real ``flowy`` in a fresh project holding the pipeline file above."""
    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    (project / "p.py").write_text(SOURCE)
    env = flowy_env(tmp_path / "home", FLOWY_PROJECT=str(project), COLUMNS="200")
    return project, flowy_runner(project, env)


def _latest_steps(project: Path) -> dict[str, str]:
    with Client("local", project) as client:
        run = client.runs()[0]
        return {s.step: s.status for s in client.steps(run.run_id)}


def test_flowy_run_only_a_nested_step_and_after_an_edit_to_the_outer_file(
    cli: tuple[Path, Flowy],
) -> None:
    project, flowy = cli
    flowy("run", "p.py:pipeline")
    assert _latest_steps(project)["a.prep.scale"] == "completed"
    (project / "marks.txt").unlink()

    flowy("run", "p.py:pipeline", "--only", "a.prep.scale", "--no-cache")
    assert (project / "marks.txt").read_text().split() == ["scale"]
    steps = _latest_steps(project)
    assert steps["a.prep.scale"] == "completed"
    assert steps["b.prep.scale"] == "skipped"
    (project / "marks.txt").unlink()

    # Edit an outer step the nested ones do not read: they stay cached, report re-runs.
    source = (project / "p.py").read_text()
    (project / "p.py").write_text(source.replace("return a_total + b_total", "return a_total"))
    done = flowy("run", "p.py:pipeline")
    assert (project / "marks.txt").read_text().split() == ["report"]
    steps = _latest_steps(project)
    assert {steps[n] for n in NESTED_STEPS} == {"cached"}, done.stdout

    done = flowy("run", "p.py:pipeline", "--only", "a.prep", code=None)
    assert done.returncode != 0
    assert "Did you mean 'a.prep" in done.stdout + done.stderr


def test_flowy_show_groups_the_nested_steps(cli: tuple[Path, Flowy]) -> None:
    _, flowy = cli
    text = flowy("show", "p.py:pipeline").stdout
    assert "a.prep.scale(a__prep__clean, factor=10) -> a__scale" in text
    assert "nested pipelines:" in text
    assert "a.prep = prep (2 steps)" in text
    mermaid = flowy("show", "p.py:pipeline", "--format", "mermaid").stdout
    assert 'subgraph n_a_prep["a.prep (pipeline prep)"]' in mermaid
    dot = flowy("show", "p.py:pipeline", "--format", "dot").stdout
    assert 'subgraph "cluster_a.prep"' in dot

"""The engine records each step's tags (``@step(tags=[...])``): ``flowy ui`` groups a run's
DAG by them. Sorted and unique, for every way a step ends: run, failed, skipped, cached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowy import Pipeline, step
from flowy.run.engine import run_pipeline
from flowy.stacks.resolution import resolve_stack


def _tags(plugins: Any, project: Path, run_id: str) -> dict[str, tuple[str, list[str]]]:
    stack = resolve_stack(None, plugins, project)
    try:
        return {s.step: (s.status, s.tags) for s in stack.metadata_store.get_step_runs(run_id)}
    finally:
        stack.close()


def test_every_recorded_step_keeps_its_tags_sorted_and_unique(project: Path, plugins: Any) -> None:
    @step(tags=["data", "prep", "data"])
    def src() -> int:
        return 1

    @step(tags=["model"])
    def bad(src: int) -> int:
        raise RuntimeError("boom")

    @step(tags=["report"])
    def after_bad(bad: int) -> int:
        return bad

    @step(cache=False)
    def plain(src: int) -> int:
        return src + 1

    pipeline = Pipeline("p", [src, bad, after_bad, plain])
    first = run_pipeline(pipeline, plugins=plugins)
    assert _tags(plugins, project, first.run_id) == {
        "src": ("completed", ["data", "prep"]),
        "bad": ("failed", ["model"]),
        "after_bad": ("skipped", ["report"]),
        "plain": ("completed", []),
    }
    second = run_pipeline(pipeline, plugins=plugins)
    assert _tags(plugins, project, second.run_id)["src"] == ("cached", ["data", "prep"])

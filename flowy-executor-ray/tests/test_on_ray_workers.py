"""What steps see and leave behind on Ray workers: native output in the logs, maps.

On the session's cluster. A Ray worker runs an attempt in a thread of its own
(the task's thread streams the reports), with a timeout in a forked child:
output written to descriptors 1 and 2 by native code or a child process must
still land in the step's log, in order; a map's elements are Ray tasks like any
step, each with its own record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flowy.run.engine import run_pipeline
from flowy.stacks.resolution import resolve_stack
from flowy.testing._executor_support import load_path_module

pytestmark = pytest.mark.slow

NOISY = """
import ctypes, os, subprocess
from flowy import Pipeline, step


def noisy(name):
    print(f"{name}: python")
    os.write(1, f"{name}: fd1\\n".encode())
    line = f"{name}: libc\\n".encode()
    ctypes.CDLL(None).write(2, line, len(line))
    subprocess.run(["sh", "-c", f"echo '{name}: child' >&2"], check=True)
    print(f"{name}: python last")


@step
def plain() -> int:
    noisy("plain")
    return 1


@step(timeout=60)
def timed() -> int:
    noisy("timed")
    return 2


pipeline = Pipeline("noisy", [plain, timed])
"""

REGIONS = """
import flowy
from flowy import Pipeline, step


@step
def regions(names: str = "north,south,east,west,atlantis") -> list[str]:
    return names.split(",")


@step(map="regions", outputs=["scores"], retries=1, retry_backoff=0.05, max_failures=1)
def train(regions: str) -> float:
    if regions == "atlantis":
        raise ValueError("no data for atlantis")
    score = len(regions) / 10
    flowy.log_metric("score", score)
    return score


@step(map="scores", outputs=["grades"])
def grade(scores: float) -> str:
    return "good" if scores >= 0.5 else "poor"


@step
def summary(regions: list[str], grades: list[str]) -> dict[str, int]:
    return {g: grades.count(g) for g in sorted(set(grades))}


pipeline = Pipeline("per_region", [regions, train, grade, summary])
"""


def test_native_output_on_a_ray_worker_is_in_the_step_logs(
    project: Path, ray_plugins: Any, ray_cluster: str, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, "ray_noisy_steps", NOISY)
    result = run_pipeline(
        module.pipeline,
        stack="ray",
        plugins=ray_plugins,
        project=project,
        executor_options={"address": ray_cluster},
        no_cache=True,
    )
    assert result.status == "completed", result.steps
    stack = resolve_stack("ray", ray_plugins, project)
    try:
        logs = {s.step: s.logs for s in stack.metadata_store.get_step_runs(result.run_id)}
    finally:
        stack.close()
    for name in ("plain", "timed"):
        shown = [line for line in logs[name].splitlines() if line.startswith(f"{name}: ")]
        assert shown == [f"{name}: {w}" for w in ("python", "fd1", "libc", "child", "python last")]


def test_a_map_runs_each_element_as_a_ray_task_with_its_own_record(
    project: Path, ray_plugins: Any, ray_cluster: str, tmp_path: Path
) -> None:
    module = load_path_module(tmp_path, "ray_regions", REGIONS)
    result = run_pipeline(
        module.pipeline,
        stack="ray",
        plugins=ray_plugins,
        project=project,
        executor_options={"address": ray_cluster},
        no_cache=True,
    )
    assert result.status == "completed", {k: v.error for k, v in result.steps.items()}
    assert result["summary"] == {"good": 2, "poor": 2}  # north, south: 0.5; east, west: 0.4
    stack = resolve_stack("ray", ray_plugins, project)
    try:
        store = stack.metadata_store
        runs = {r.step: r for r in store.get_step_runs(result.run_id)}
        scores = sorted((s, m.value) for s, m in store.get_metrics(result.run_id))
    finally:
        stack.close()
    assert runs["train[4]"].status == "failed" and runs["train[4]"].attempts == 2
    assert "no data for atlantis" in (runs["train[4]"].error or "")
    assert [runs[f"train[{i}]"].status for i in range(4)] == ["completed"] * 4
    assert scores == [(f"train[{i}]", v) for i, v in enumerate([0.5, 0.5, 0.4, 0.4])]

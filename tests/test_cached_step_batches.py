"""Cached steps' records are written in batches (``MetadataStore.record_steps``).

On the real local stack (SQLite file, local artifacts): the engine buffers the
records of cached steps and writes them, in order, before it records or submits
any other step and when the run ends. These tests watch the store's real
methods (a spy that calls through) and read back what landed in the database,
and kill a real orchestrating process to check what a crash may lose.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from flowy import Pipeline, step
from flowy.kernel.contracts import MetadataStore
from flowy.kernel.records import StepRunRecord
from flowy.run.engine import run_pipeline
from flowy.stacks.resolution import resolve_stack
from flowy.testing._executor_support import load_path_module
from flowy.tracking.client import Client


def _spy_on_store(plugins: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Log every record_step / record_steps call of the local stack's real store class."""
    cls = plugins.registry.get("metadata_store", "sqlite").load()
    calls: list[Any] = []
    record_step, record_steps = cls.record_step, cls.record_steps

    @functools.wraps(record_step)
    def spy_step(self: MetadataStore, step_run: StepRunRecord, *args: Any, **kw: Any) -> None:
        calls.append(("record_step", step_run.step, step_run.status))
        record_step(self, step_run, *args, **kw)

    @functools.wraps(record_steps)
    def spy_steps(self: MetadataStore, step_runs: list[StepRunRecord]) -> None:
        calls.append(("record_steps", [(r.step, r.status) for r in step_runs]))
        record_steps(self, step_runs)

    monkeypatch.setattr(cls, "record_step", spy_step)
    monkeypatch.setattr(cls, "record_steps", spy_steps)
    return calls


def _recorded(project: Path, plugins: Any, run_id: str) -> list[tuple[str, str]]:
    stack = resolve_stack(None, plugins, project)
    try:
        return [(r.step, r.status) for r in stack.metadata_store.get_step_runs(run_id)]
    finally:
        stack.close()


def _chain_source(n: int) -> str:
    """A module with a chain of ``n`` steps, ``s0`` to ``s{n-1}``, each adding one."""
    lines = ["from flowy import Pipeline, step", "", "@step", "def s0():", "    return 0"]
    for i in range(1, n):
        lines += ["", "@step", f"def s{i}(s{i - 1}):", f"    return s{i - 1} + 1"]
    names = ", ".join(f"s{i}" for i in range(n))
    return "\n".join([*lines, "", f'pipeline = Pipeline("chain", [{names}])', ""])


def test_a_fully_cached_run_writes_its_records_in_one_batch(
    project, plugins, monkeypatch, write_module
):
    calls = _spy_on_store(plugins, monkeypatch)
    pipeline = write_module(_chain_source(6)).pipeline
    first = run_pipeline(pipeline, plugins=plugins)
    assert first.status == "completed"
    assert all(c[0] == "record_step" for c in calls)
    calls.clear()

    second = run_pipeline(pipeline, plugins=plugins)
    assert {s.status for s in second.steps.values()} == {"cached"}
    order = [f"s{i}" for i in range(6)]
    assert calls == [("record_steps", [(name, "cached") for name in order])]
    assert _recorded(project, plugins, second.run_id) == [(name, "cached") for name in order]
    with Client("local", project, plugins=plugins) as client:
        assert client.run(second.run_id).status == "completed"
        assert [s.status for s in client.steps(second.run_id)] == ["cached"] * 6
    stack = resolve_stack(None, plugins, project)
    try:
        assert stack.metadata_store.cache_stats()["hits"] == 6  # each hit counted once
    finally:
        stack.close()
    assert second["s5"] == 5


def test_cached_records_are_written_before_the_next_step_runs(project, plugins, monkeypatch):
    calls = _spy_on_store(plugins, monkeypatch)

    @step
    def a() -> int:
        return 1

    @step
    def b(a: int) -> int:
        return a + 1

    @step(cache=False)
    def c(b: int) -> int:
        calls.append(("c runs",))
        return b + 1

    @step
    def d(c: int) -> int:
        return c * 10

    pipeline = Pipeline("mixed", [a, b, c, d])
    run_pipeline(pipeline, plugins=plugins)
    calls.clear()
    second = run_pipeline(pipeline, plugins=plugins)
    assert second["d"] == 30
    assert calls == [
        ("record_steps", [("a", "cached"), ("b", "cached")]),
        ("c runs",),
        ("record_step", "c", "completed"),
        ("record_steps", [("d", "cached")]),  # c's output is unchanged: d hits
    ]
    assert _recorded(project, plugins, second.run_id) == [
        ("a", "cached"),
        ("b", "cached"),
        ("c", "completed"),
        ("d", "cached"),
    ]


def test_a_failed_step_after_cached_ones_keeps_every_record(project, plugins, tmp_path):
    flag = tmp_path / "fail"

    @step
    def a() -> int:
        return 1

    @step(cache=False)
    def b(a: int) -> int:
        if flag.exists():
            raise RuntimeError("boom")
        return a + 1

    @step
    def c(a: int) -> int:
        return a + 2

    pipeline = Pipeline("partial", [a, b, c])
    run_pipeline(pipeline, plugins=plugins)
    flag.write_text("yes")
    second = run_pipeline(pipeline, plugins=plugins)
    assert second.status == "failed"
    recorded = dict(_recorded(project, plugins, second.run_id))
    assert recorded == {"a": "cached", "b": "failed", "c": "cached"}


SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    from flowy import Pipeline, step
    from flowy.run.engine import run_pipeline

    @step
    def a():
        return 1

    @step
    def b(a):
        return a + 1

    @step(cache=False)
    def c(b, marks, pause=60.0):
        open(os.path.join(marks, "c-started"), "w").close()
        time.sleep(pause)
        return b + 1

    pipeline = Pipeline("killed", [a, b, c], context={"marks": ""})

    if __name__ == "__main__":
        run_pipeline(pipeline, params=json.loads(sys.argv[1]), executor_options={"max_workers": 1})
    """
)


def test_sigkill_after_cached_steps_loses_no_record_and_resume_reruns_only_the_rest(
    project, plugins
):
    script = project / "killed.py"
    script.write_text(SCRIPT)
    marks = project / "marks"
    marks.mkdir()

    def start(pause: float) -> subprocess.Popen[bytes]:
        params = json.dumps({"marks": str(marks), "pause": pause})
        return subprocess.Popen(
            [sys.executable, str(script), params],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    filling = start(0.0)
    assert filling.wait(timeout=120) == 0, filling.stdout.read().decode()  # type: ignore[union-attr]
    (marks / "c-started").unlink()

    proc = start(60.0)
    deadline = time.monotonic() + 90
    while not (marks / "c-started").exists():
        assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "step c never started"
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=10)

    with Client("local", project, plugins=plugins) as client:
        killed = client.runs()[0]
        assert killed.status == "crashed"
        # a and b were cached before c was handed to the executor: their records are there.
        assert [(s.step, s.status) for s in client.steps(killed.run_id)] == [
            ("a", "cached"),
            ("b", "cached"),
        ]

    module = load_path_module(project, "killed_again", script.read_text())
    resumed = run_pipeline(
        module.pipeline,
        plugins=plugins,
        project=project,
        params={"marks": str(marks), "pause": 0.0},
        resume=killed.run_id,
    )
    assert resumed.status == "completed" and resumed["c"] == 3
    assert {k: v.status for k, v in resumed.steps.items()} == {
        "a": "cached",
        "b": "cached",
        "c": "completed",
    }


def test_a_hit_on_an_older_entry_is_still_found(project, plugins):
    """The run's one read of each step's newest entry is only a hint: other keys are looked up."""
    from flowy import Context

    @step
    def scaled(factor: int) -> int:
        return 10 * factor

    def run(factor: int) -> Any:
        return run_pipeline(Pipeline("hint", [scaled], context=Context(factor=factor)),
                            plugins=plugins)  # fmt: skip

    assert run(1).steps["scaled"].status == "completed"
    assert run(2).steps["scaled"].status == "completed"  # now the newest entry
    again = run(1)  # matches the older entry, not the newest
    assert again.steps["scaled"].status == "cached"
    assert again["scaled"] == 10
    assert run(2).steps["scaled"].status == "cached"

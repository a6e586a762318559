"""The run engine end to end on the real local stack (SQLite file, local artifacts)."""

from __future__ import annotations

import itertools
import time
import warnings
from pathlib import Path

import pytest
from flowy import Context, Pipeline, hookimpl, step
from flowy.kernel.errors import ChecksumMismatchError, ParameterError
from flowy.run.engine import run_pipeline
from flowy.run.planner import CacheWarning
from flowy.stacks.resolution import resolve_stack


def run(pipeline, plugins, **kwargs):
    return run_pipeline(pipeline, plugins=plugins, **kwargs)


def test_run_records_everything_and_outputs_load_back(project, plugins):
    @step
    def numbers(n):
        print("making numbers")
        return list(range(n))

    @step(outputs=["total", "count"])
    def stats(numbers):
        return sum(numbers), len(numbers)

    result = run(Pipeline("p", [numbers, stats], context=Context(n=5)), plugins)
    assert result.status == "completed"
    assert {k: v.status for k, v in result.steps.items()} == {
        "numbers": "completed",
        "stats": "completed",
    }
    assert result["total"] == 10 and result["count"] == 5 and result["numbers"] == [0, 1, 2, 3, 4]
    assert result.steps["numbers"].duration is not None
    assert (project / ".flowy" / "metadata.db").exists()

    stack = resolve_stack(None, plugins, project)
    store = stack.metadata_store
    recorded = store.get_run(result.run_id)
    assert recorded.status == "completed" and recorded.params == {"n": 5}
    assert recorded.stack["components"]["executor"]["type"] == "local"
    assert recorded.environment["python"]
    steps = {s.step: s for s in store.get_step_runs(result.run_id)}
    assert "making numbers" in steps["numbers"].logs
    assert steps["stats"].inputs == {"numbers": steps["numbers"].outputs["numbers"]}
    stack.close()


def test_second_run_is_fully_cached_and_param_change_reruns(project, plugins):
    calls = []

    @step
    def a(n):
        calls.append("a")
        return n

    @step
    def b(a):
        calls.append("b")
        return a * 2

    p = Pipeline("p", [a, b], context={"n": 1})
    run(p, plugins)
    second = run(p, plugins)
    assert {s.status for s in second.steps.values()} == {"cached"}
    assert second["b"] == 2 and calls == ["a", "b"]
    third = run(p, plugins, params={"n": 2})
    assert third["b"] == 4 and calls == ["a", "b", "a", "b"]
    fourth = run(p, plugins, no_cache=True)
    assert {s.status for s in fourth.steps.values()} == {"completed"}


def test_editing_one_step_reruns_it_and_its_descendants_only(project, plugins, write_module):
    source = """
        from flowy import Pipeline, step

        @step
        def root():
            return 1

        @step
        def left(root):
            return root + {delta}

        @step
        def right(root):
            return root + 100

        @step
        def sink(left):
            return left * 10

        pipeline = Pipeline("edit", [root, left, right, sink])
    """
    first = run(write_module(source.format(delta=1)).pipeline, plugins)
    assert first["sink"] == 20
    second = run(write_module(source.format(delta=2)).pipeline, plugins)
    statuses = {k: v.status for k, v in second.steps.items()}
    assert statuses == {
        "root": "cached",
        "right": "cached",
        "left": "completed",
        "sink": "completed",
    }
    assert second["sink"] == 30


def test_retries_with_backoff_then_success(project, plugins):
    attempts = []

    @step(retries=3, retry_backoff=0.01)
    def flaky():
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    result = run(Pipeline("p", [flaky]), plugins)
    assert result.status == "completed" and result["flaky"] == "ok"
    assert result.steps["flaky"].attempts == 3
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.01 and gaps[1] >= 0.02  # exponential backoff


def test_retry_on_limits_which_errors_are_retried(project, plugins):
    attempts = []

    @step(retries=3, retry_backoff=0.01, retry_on=(ConnectionError,))
    def broken():
        attempts.append(1)
        raise ValueError("a bug, not a blip")

    result = run(Pipeline("p", [broken]), plugins)
    assert result.status == "failed" and len(attempts) == 1
    assert result.steps["broken"].error == "ValueError: a bug, not a blip"


def test_timeout_stops_the_step_and_its_children(project, plugins, tmp_path):
    marker = tmp_path / "pid"

    @step(timeout=0.5)
    def sleepy():
        import subprocess

        child = subprocess.Popen(["sleep", "30"])
        marker.write_text(str(child.pid))
        time.sleep(30)
        return 1

    started = time.monotonic()
    result = run(Pipeline("p", [sleepy]), plugins)
    assert time.monotonic() - started < 10
    assert result.status == "failed"
    assert result.steps["sleepy"].status == "timed_out"
    assert "overran its timeout of 0.5 s" in result.steps["sleepy"].error
    child_pid = int(marker.read_text())
    time.sleep(0.2)
    assert not _alive(child_pid)


def _alive(pid: int) -> bool:
    """Running (a reaped or zombie process does not count: it no longer runs)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_timeout_is_retried_and_a_fast_step_under_timeout_completes(project, plugins, tmp_path):
    counter = tmp_path / "count"
    counter.write_text("0")

    @step(timeout=1.0, retries=1, retry_backoff=0.01)
    def slow_then_fast():
        n = int(counter.read_text()) + 1
        counter.write_text(str(n))
        if n == 1:
            time.sleep(5)
        return n

    result = run(Pipeline("p", [slow_then_fast]), plugins)
    assert result.status == "completed" and result["slow_then_fast"] == 2
    assert result.steps["slow_then_fast"].attempts == 2


def test_failure_skips_descendants_but_independent_branches_finish(project, plugins):
    failures = []

    @step
    def src():
        return 1

    @step(on_failure=lambda name, error: failures.append((name, error)))
    def bad(src):
        raise RuntimeError("boom")

    @step
    def after_bad(bad):
        return bad

    @step
    def good(src):
        return src + 1

    @step
    def after_good(good):
        return good + 1

    result = run(Pipeline("p", [src, bad, after_bad, good, after_good]), plugins)
    statuses = {k: v.status for k, v in result.steps.items()}
    assert statuses == {
        "src": "completed",
        "bad": "failed",
        "after_bad": "skipped",
        "good": "completed",
        "after_good": "completed",
    }
    assert result.status == "failed" and result["after_good"] == 3
    assert failures == [("bad", "RuntimeError: boom")]
    assert "upstream step 'bad' failed" in result.steps["after_bad"].error


def test_when_false_skips_the_step_and_its_consumers(project, plugins):
    @step(when=lambda ctx: ctx.deploy)
    def deploy():
        return "deployed"

    @step
    def notify(deploy):
        return deploy

    @step
    def other():
        return 1

    result = run(Pipeline("p", [deploy, notify, other], context={"deploy": False}), plugins)
    assert {k: v.status for k, v in result.steps.items()} == {
        "deploy": "skipped",
        "notify": "skipped",
        "other": "completed",
    }
    assert result.status == "completed"
    assert (
        run(Pipeline("p", [deploy, notify, other], context={"deploy": True}), plugins)["notify"]
        == "deployed"
    )


def test_corrupted_artifact_is_a_cache_miss_and_a_clear_error_on_load(project, plugins):
    @step
    def make():
        return {"weights": [1, 2, 3]}

    p = Pipeline("p", [make])
    first = run(p, plugins)
    path = Path(first.artifacts["make"].uri)
    path.write_bytes(path.read_bytes().replace(b"1", b"9"))
    with pytest.raises(ChecksumMismatchError, match="is corrupted"):
        first["make"]
    second = run(p, plugins)
    assert second.steps["make"].status == "completed"
    assert second["make"] == {"weights": [1, 2, 3]}


def test_unhashable_parameter_runs_uncached_with_a_warning(project, plugins):
    class Opaque:
        pass

    @step
    def use(thing):
        return 1

    p = Pipeline("p", [use], context={"thing": Opaque()})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(p, plugins)
        second = run(p, plugins)
    assert second.steps["use"].status == "completed"
    assert any(
        issubclass(w.category, CacheWarning) and "parameter 'thing'" in str(w.message)
        for w in caught
    )


def test_unknown_param_is_refused_before_anything_runs(project, plugins):
    @step
    def s(n):
        return n

    with pytest.raises(ParameterError, match="Unknown parameter"):
        run(Pipeline("p", [s], context={"n": 1}), plugins, params={"m": 2})
    assert not (project / ".flowy" / "artifacts").exists()


def test_lifecycle_hooks_reach_a_tracker_and_a_raising_tracker_is_only_a_warning(project, plugins):
    events = []

    class Tracker:
        @hookimpl
        def flowy_pipeline_started(self, run):
            events.append(("started", run.pipeline))

        @hookimpl
        def flowy_step_finished(self, run, task, result):
            events.append(("finished", task.step, result.status))

        @hookimpl
        def flowy_step_cached(self, run, task, entry):
            events.append(("cached", task.step))

        @hookimpl
        def flowy_metric_logged(self, run, step, name, value, index):
            events.append(("metric", step, name, value))

        @hookimpl
        def flowy_pipeline_finished(self, run, status):
            events.append(("done", status))

    class Broken:
        @hookimpl
        def flowy_step_finished(self, run, task, result):
            raise RuntimeError("tracker bug")

    plugins.register(Tracker(), "tracker")
    plugins.register(Broken(), "broken")

    @step
    def train():
        import flowy

        flowy.log_metric("accuracy", 0.9)
        return 1

    p = Pipeline("p", [train])
    with pytest.warns(RuntimeWarning, match="plugin broken raised in flowy_step_finished"):
        assert run(p, plugins).status == "completed"
    run(p, plugins)
    assert events == [
        ("started", "p"),
        ("metric", "train", "accuracy", 0.9),
        ("finished", "train", "completed"),
        ("done", "completed"),
        ("started", "p"),
        ("cached", "train"),
        ("done", "completed"),
    ]


def test_resume_reuses_completed_steps_and_reruns_the_rest(project, plugins, tmp_path):
    flag = tmp_path / "broken"
    flag.write_text("yes")
    calls = []

    @step(cache=False)
    def first():
        calls.append("first")
        return 1

    @step(cache=False)
    def second(first):
        calls.append("second")
        if flag.exists():
            raise RuntimeError("not yet")
        return first + 1

    p = Pipeline("p", [first, second])
    failed = run(p, plugins)
    assert failed.status == "failed"
    flag.unlink()
    resumed = run(p, plugins, resume=failed.run_id)
    assert resumed.status == "completed" and resumed["second"] == 2
    assert resumed.steps["first"].status == "cached"
    assert calls == ["first", "second", "second"]

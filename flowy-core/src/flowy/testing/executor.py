"""The contract every :class:`~flowy.kernel.contracts.Executor` must meet, as tests.

Subclass :class:`ExecutorContract` in a class whose name starts with ``Test``
and provide two fixtures: ``executor_plugins`` (a plugin manager that knows
your executor and the stores the stack uses) and ``executor_component`` (the
stack's ``[executor]`` table)::

    class TestMyExecutor(ExecutorContract):
        concurrent = True

        @pytest.fixture
        def executor_plugins(self):
            return create_plugin_manager(entrypoints=False, plugins=[...])

        @pytest.fixture
        def executor_component(self):
            return {"type": "mine", "workers": 2}

Every check runs a real pipeline through :func:`flowy.run.engine.run_pipeline` on a
stack made of that executor plus ``store_components`` (by default SQLite
metadata and a local artifact folder, from flowy-store-sqlite), because what
matters is what the engine and the stores see: dependency order, each step
exactly once, retries with backoff, timeouts that stop the step and its child
processes, failure skipping exactly its descendants, resources never
oversubscribed, logs and metrics reaching the metadata store, a step's output
reaching it while the step runs (an executor that cannot carry it sets
``streams_output = False``, and the suite then checks the whole log still
arrives with the result and nothing half-sent). The steps live in
:mod:`flowy.testing._contract_steps` (or in generated files loaded by path) so
that worker processes and remote workers import them as they would a user's.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from flowy.kernel.markers import hookimpl
from flowy.kernel.records import RunRecord, StepResult, StepTask
from flowy.run.engine import RunResult, run_pipeline
from flowy.run.pipeline import Pipeline
from flowy.run.steps import Step
from flowy.testing import _contract_steps as S
from flowy.testing._executor_support import (
    Attempt,
    alive,
    attempts,
    dag_source,
    load_path_module,
    met_partner,
    overlap,
    random_dags,
)

__all__ = ["ExecutorContract"]


class RetryListener:
    """A plugin that hears ``flowy_step_retrying`` and tells the ``watched`` step so."""

    def __init__(self, marks: str) -> None:
        self.marks = marks
        self.heard: list[StepResult] = []
        self.delays: list[float] = []
        self.tasks: list[str] = []

    @hookimpl
    def flowy_step_retrying(
        self, run: RunRecord, task: StepTask, result: StepResult, delay: float
    ) -> None:
        self.heard.append(result)
        self.delays.append(delay)
        self.tasks.append(task.step)
        open(os.path.join(self.marks, "retry-heard"), "w").close()


class ExecutorContract:
    """Behaviour tests for an executor; subclasses provide two fixtures (see the module)."""

    #: Independent steps must overlap in time (False for sequential executors).
    concurrent: ClassVar[bool] = False
    #: CPUs the executor offers in total, and the most one step may ask for.
    cpu_total: ClassVar[float] = 1
    cpu_per_step: ClassVar[float] = 1
    #: Whether a step's output reaches the run while the step runs (``report_output``);
    #: an executor that cannot carry it (SageMaker jobs) says False to skip that test.
    streams_output: ClassVar[bool] = True
    #: Examples of the random-DAG property test.
    dag_examples: ClassVar[int] = 8
    #: The stack's other components (``{project}`` is expanded by the stack loader).
    store_components: ClassVar[dict[str, dict[str, Any]]] = {
        "metadata_store": {"type": "sqlite", "url": "sqlite:///{project}/.flowy/metadata.db"},
        "artifact_store": {"type": "local", "path": "{project}/.flowy/artifacts"},
    }

    @pytest.fixture
    def executor_plugins(self) -> Any:
        raise NotImplementedError("subclasses of ExecutorContract provide `executor_plugins`")

    @pytest.fixture
    def executor_component(self) -> dict[str, Any]:
        raise NotImplementedError("subclasses of ExecutorContract provide `executor_component`")

    # -- harness -------------------------------------------------------------

    @pytest.fixture
    def contract_project(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        root = tmp_path / "project"
        (root / ".flowy").mkdir(parents=True)
        monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("FLOWY_PROJECT", str(root))
        monkeypatch.delenv("FLOWY_STACK", raising=False)
        return root

    @pytest.fixture
    def marks(self, tmp_path: Path) -> str:
        folder = tmp_path / "marks"
        folder.mkdir()
        return str(folder)

    @pytest.fixture
    def run(
        self, contract_project: Path, executor_plugins: Any, executor_component: dict[str, Any]
    ) -> Callable[..., RunResult]:
        """Run a pipeline on the contract stack; ``raises`` returns no result."""
        from flowy.stacks.definitions import StackDefinition, save_stack

        components = {**self.store_components, "executor": dict(executor_component)}
        save_stack(StackDefinition("contract", components, "contract"), "project", contract_project)

        def go(pipeline: Pipeline, **kwargs: Any) -> RunResult:
            return run_pipeline(
                pipeline,
                stack="contract",
                plugins=executor_plugins,
                project=contract_project,
                no_cache=True,
                **kwargs,
            )

        return go

    @pytest.fixture
    def metadata(self, run: Any, contract_project: Path, executor_plugins: Any) -> Iterator[Any]:
        """The contract stack's metadata store, to read back what the engine recorded."""
        from flowy.stacks.resolution import resolve_stack

        stack = resolve_stack("contract", executor_plugins, contract_project)
        yield stack.metadata_store
        stack.close()

    # -- order and exactly once ----------------------------------------------

    def test_runs_each_step_once_in_dependency_order(self, run: Any, marks: str) -> None:
        steps = [S.top, S.left, S.right, S.bottom, S.alone]
        result = run(Pipeline("contract-diamond", steps, context={"marks": marks}))
        assert result.status == "completed", {k: v.error for k, v in result.steps.items()}
        assert result["bottom"] == 112 and result["alone"] == "alone"
        seen = attempts(marks)
        assert {name: len(a) for name, a in seen.items()} == {s.name: 1 for s in steps}
        for before, after in [
            ("top", "left"),
            ("top", "right"),
            ("left", "bottom"),
            ("right", "bottom"),
        ]:
            assert seen[before][0].end <= seen[after][0].start, (before, after)

    def test_independent_steps_overlap_exactly_when_concurrent(self, run: Any, marks: str) -> None:
        """A concurrent executor overlaps independent steps; a sequential one never does.

        The evidence is a rendezvous, not a duration: each step announces itself
        and waits for the other. Concurrent steps meet (however loaded the machine);
        sequential ones cannot, and the first gives up after a short wait.
        """
        steps = [S.top, S.left, S.right]
        wait = 120.0 if self.concurrent else 0.5
        context = {"marks": marks, "rendezvous": wait}
        result = run(Pipeline("contract-overlap", steps, context=context))
        assert result.status == "completed"
        seen = attempts(marks)
        met = {name: met_partner(marks, name) for name in ("left", "right")}
        if self.concurrent:
            assert met == {"left": True, "right": True}
            assert overlap(seen["left"][0], seen["right"][0]) > 0
        else:
            assert not met["left"] or not met["right"]
            assert overlap(seen["left"][0], seen["right"][0]) == 0

    # -- retries -------------------------------------------------------------

    def test_retries_with_exponential_backoff(self, run: Any, marks: str) -> None:
        result = run(Pipeline("contract-retry", [S.flaky], context={"marks": marks}))
        assert result.status == "completed" and result["flaky"] == "recovered"
        assert result.steps["flaky"].attempts == 3
        tries = sorted(attempts(marks)["flaky"], key=lambda a: a.start)
        gaps = [b.start - a.end for a, b in itertools.pairwise(tries)]
        assert gaps[0] >= 0.2 * 0.9 and gaps[1] >= 0.4 * 0.9, gaps

    def test_retries_are_reported_while_the_step_runs(
        self, run: Any, marks: str, executor_plugins: Any
    ) -> None:
        """Each retry reaches ``flowy_step_retrying`` before the next attempt ends (progress
        shows it live): pass ``runtime.report_retry`` as ``run_with_retries``'s ``on_retry``."""
        listener = RetryListener(marks)
        executor_plugins.pm.register(listener, name="contract-retry-listener")
        try:
            result = run(Pipeline("contract-watched", [S.watched], context={"marks": marks}))
        finally:
            executor_plugins.pm.unregister(name="contract-retry-listener")
        assert result.status == "completed" and result["watched"] == "heard", result.steps
        assert result.steps["watched"].attempts == 2
        assert [(r.step, r.attempts, r.status) for r in listener.heard] == [
            ("watched", 1, "failed")
        ]
        assert listener.heard[0].error == "ConnectionError: the first attempt fails"
        assert listener.delays == [0.05] and listener.tasks == ["watched"]

    @pytest.mark.parametrize("name", ["talker", "talker_timed"])
    def test_output_is_reported_while_the_step_runs(
        self, run: Any, marks: str, metadata: Any, name: str
    ) -> None:
        """A line the step prints reaches the metadata store's live output while the step
        still runs, with and without a timeout: pass ``runtime.report_output`` (as
        ``on_output``, bound to the task) to ``execute_attempt`` or ``run_attempt_forked``,
        or forward it from where the attempt runs. The step waits for the test to have
        read it there, so nothing depends on timing."""
        if not self.streams_output:
            self._output_arrives_with_the_result(run, marks, metadata, name)
            return
        seen: list[str] = []
        stop = threading.Event()

        def watch() -> None:  # the test's eye on the store while run() blocks
            while not stop.is_set():
                for change in metadata.changes_since(0):
                    if change.kind == "output" and change.step == name:
                        text = metadata.step_output(change.run_id, name)
                        if S.TALKER_LINE in text:
                            seen.append(text)
                            open(os.path.join(marks, f"output-seen-{name}"), "w").close()
                            return
                stop.wait(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        step = getattr(S, name)
        try:
            result = run(Pipeline(f"contract-{name}", [step], context={"marks": marks}))
        finally:
            stop.set()
            watcher.join()
        assert result.status == "completed" and result[name] == "seen", result.steps
        assert seen and "talker is done" not in seen[0]
        logs = result.steps[name].logs or ""
        assert S.TALKER_LINE in logs and "talker is done" in logs
        # Recorded: the live tail is gone, the step's record holds the full log.
        assert metadata.step_output(result.run_id, name) == ""

    def _output_arrives_with_the_result(
        self, run: Any, marks: str, metadata: Any, name: str
    ) -> None:
        """An executor that opts out (``streams_output = False``) still records the whole
        log with the step, and reports no live output meanwhile (nothing half-sent)."""
        open(os.path.join(marks, f"output-seen-{name}"), "w").close()  # no one will watch
        step = getattr(S, name)
        result = run(Pipeline(f"contract-{name}", [step], context={"marks": marks}))
        assert result.status == "completed" and result[name] == "seen", result.steps
        logs = result.steps[name].logs or ""
        assert S.TALKER_LINE in logs and "talker is done" in logs
        changes = [c for c in metadata.changes_since(0) if c.run_id == result.run_id]
        assert not [c for c in changes if c.kind == "output"]
        assert metadata.step_output(result.run_id, name) == ""

    def test_errors_outside_retry_on_are_not_retried(self, run: Any, marks: str) -> None:
        result = run(Pipeline("contract-hopeless", [S.hopeless], context={"marks": marks}))
        rec = result.steps["hopeless"]
        assert result.status == "failed" and rec.status == "failed" and rec.attempts == 1
        assert rec.error is not None and "not worth retrying" in rec.error
        assert len(attempts(marks)["hopeless"]) == 1

    # -- timeouts ------------------------------------------------------------

    def test_timeout_stops_the_step_and_its_children(self, run: Any, marks: str) -> None:
        started = time.monotonic()
        result = run(Pipeline("contract-timeout", [S.stubborn], context={"marks": marks}))
        assert time.monotonic() - started < 60, "the run waited for the step instead of stopping it"
        rec = result.steps["stubborn"]
        assert result.status == "failed" and rec.status == "timed_out", rec.error
        pids = [int(p) for p in Path(marks, "stubborn.pids").read_text().split()]
        deadline = time.monotonic() + 10
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in pids if alive(p)], "the step or its child process still runs"

    # -- failure isolation ---------------------------------------------------

    def test_failure_skips_exactly_its_descendants(self, run: Any, marks: str) -> None:
        steps = [S.root, S.broken, S.after_broken, S.far_after_broken, S.healthy, S.after_healthy]
        result = run(Pipeline("contract-isolation", steps, context={"marks": marks}))
        statuses = {k: v.status for k, v in result.steps.items()}
        assert statuses == {
            "root": "completed",
            "broken": "failed",
            "after_broken": "skipped",
            "far_after_broken": "skipped",
            "healthy": "completed",
            "after_healthy": "completed",
        }
        assert result.status == "failed" and result["after_healthy"] == 3
        assert set(attempts(marks)) == {"root", "broken", "healthy", "after_healthy"}

    # -- resources -----------------------------------------------------------

    def test_resources_are_never_oversubscribed(self, run: Any, marks: str) -> None:
        cpu = self.cpu_per_step
        steps = [
            Step(s.fn, name=s.name, resources={"cpu": cpu})
            for s in (S.hungry_a, S.hungry_b, S.hungry_c, S.hungry_d)
        ]
        result = run(Pipeline("contract-resources", steps, context={"marks": marks}))
        assert result.status == "completed", {k: v.error for k, v in result.steps.items()}
        spans = [a[0] for a in attempts(marks).values()]
        for probe in spans:
            at = probe.start + 0.01
            busy = sum(cpu for s in spans if s.start <= at < s.end)
            assert busy <= self.cpu_total + 1e-9, f"{busy} cpus in use, {self.cpu_total} exist"

    # -- logs and metrics ----------------------------------------------------

    def test_logs_and_metrics_reach_the_metadata_store(
        self, run: Any, marks: str, metadata: Any
    ) -> None:
        result = run(Pipeline("contract-logs", [S.chatty], context={"marks": marks}))
        assert result.status == "completed"
        recorded = {r.step: r for r in metadata.get_step_runs(result.run_id)}
        logs = recorded["chatty"].logs
        assert "chatty says hello on stdout" in logs and "chatty logs a warning" in logs
        metrics = [
            (step, m.name, m.value, m.step) for step, m in metadata.get_metrics(result.run_id)
        ]
        assert sorted(metrics, key=lambda m: m[3]) == [
            ("chatty", "loss", 0.9, 0),
            ("chatty", "loss", 0.5, 1),
            ("chatty", "loss", 0.25, 2),
        ]

    # -- property: random DAGs -----------------------------------------------

    def test_random_dags_run_every_step_once_in_order(self, run: Any, tmp_path: Path) -> None:
        from hypothesis import HealthCheck, given, settings

        counter = iter(range(1_000_000))

        @settings(
            max_examples=self.dag_examples,
            deadline=None,
            database=None,  # examples are cheap to regenerate; write nothing into the cwd
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(random_dags())
        def check(edges: dict[str, list[str]]) -> None:
            n = next(counter)
            marks = tmp_path / f"dag-marks-{n}"
            marks.mkdir()
            name = f"contract_dag_{os.getpid()}_{n}"
            module = load_path_module(tmp_path, name, dag_source(edges))
            result = run(module.pipeline, params={"marks": str(marks)})
            assert result.status == "completed", {k: v.error for k, v in result.steps.items()}
            seen = attempts(str(marks))
            assert {k: len(v) for k, v in seen.items()} == {name: 1 for name in edges}
            for name, ups in edges.items():
                for up in ups:
                    assert seen[up][0].end <= seen[name][0].start, (up, name)
                assert result[name] == 1 + sum(result[u] for u in ups)

        check()


# Re-exported for subclasses that write their own checks.
__all__ += ["Attempt"]

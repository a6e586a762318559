"""The contract every tracker must meet, as tests.

A tracker is any class whose instances implement lifecycle hooks
(``flowy_pipeline_started``, ``flowy_step_finished``, ...); a stack names one
and the engine registers it with the plugin manager for the length of a run.
Subclass :class:`TrackerContract` in a class whose name starts with ``Test``,
provide a fresh ``tracker`` and say how to read back what it recorded::

    class TestMyTracker(TrackerContract):
        plugins = [("flowy-mytracker", "flowy_mytracker.plugin")]  # who registers it
        name = "mytracker"                                        # as a stack names it

        @pytest.fixture
        def tracker(self, tmp_path):
            return MyTracker(path=str(tmp_path / "events.jsonl"))

        def events(self, tracker):
            return [(e["event"], e.get("step")) for e in read_lines(tracker.path)]

``events`` returns ``(hook name, step name or None)`` pairs in the order the
tracker saw them. The suite runs real pipelines (flowy-executor-local and
flowy-store-sqlite, skipped when missing) with a completed, a failed, a
skipped, a conditionally skipped and, on the second run, a cached step plus a
metric, with a reference recorder registered beside the tracker, and checks:

* the tracker saw exactly the events the reference saw, for every hook it
  implements, in the same order, across both runs;
* a tracker that records step outcomes (finished, failed, skipped) also records
  steps re-used from the cache (``flowy_step_cached``);
* it never raises (the engine would report it as a warning naming it);
* another tracker that raises in every hook neither fails the run nor starves
  this one of events;
* it is registered under :attr:`TrackerContract.name`.
"""

from __future__ import annotations

import importlib
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from flowy import hookimpl
from flowy.testing._executor_support import load_path_module

if TYPE_CHECKING:
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.run.engine import RunResult

__all__ = ["LIFECYCLE_HOOKS", "TrackerContract"]

LIFECYCLE_HOOKS = (
    "flowy_pipeline_started",
    "flowy_pipeline_finished",
    "flowy_step_started",
    "flowy_step_finished",
    "flowy_step_failed",
    "flowy_step_cached",
    "flowy_step_skipped",
    "flowy_metric_logged",
)

Event = tuple[str, "str | None"]

_STEPS = """
import flowy
from flowy import step


@step
def prepare():
    flowy.log_metric("loss", 0.5)
    return 1


@step
def broken(prepare):
    raise RuntimeError("a planned failure of the tracker contract")


@step
def downstream(broken):
    return broken


@step(when=lambda context: False)
def never():
    return 0
"""


class _Reference:
    """Records every lifecycle event: what the tracker under test must also have seen."""

    def __init__(self) -> None:
        self.seen: list[Event] = []

    def seen_of(self, hooks: set[str]) -> list[Event]:
        """The events of ``hooks`` only, in order: all a tracker implementing them sees."""
        return [event for event in self.seen if event[0] in hooks]

    @hookimpl
    def flowy_pipeline_started(self, run: Any) -> None:
        self.seen.append(("flowy_pipeline_started", None))

    @hookimpl
    def flowy_pipeline_finished(self, run: Any, status: str) -> None:
        self.seen.append(("flowy_pipeline_finished", None))

    @hookimpl
    def flowy_step_started(self, run: Any, task: Any) -> None:
        self.seen.append(("flowy_step_started", task.step))

    @hookimpl
    def flowy_step_finished(self, run: Any, task: Any, result: Any) -> None:
        self.seen.append(("flowy_step_finished", task.step))

    @hookimpl
    def flowy_step_failed(self, run: Any, task: Any, result: Any) -> None:
        self.seen.append(("flowy_step_failed", task.step))

    @hookimpl
    def flowy_step_cached(self, run: Any, task: Any, entry: Any) -> None:
        self.seen.append(("flowy_step_cached", task.step))

    @hookimpl
    def flowy_step_skipped(self, run: Any, step: str, reason: str) -> None:
        self.seen.append(("flowy_step_skipped", step))

    @hookimpl
    def flowy_metric_logged(self, run: Any, step: str, name: str, value: float, index: Any) -> None:
        self.seen.append(("flowy_metric_logged", step))


class _Raising(_Reference):
    """A tracker with a bug in every hook (it records nothing: each call raises first)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = _Explodes()


class _Explodes(list[Event]):
    def append(self, event: Event) -> None:
        raise RuntimeError(f"raising tracker: {event[0]}")


def _steps_module(folder: Path) -> ModuleType:
    return load_path_module(folder, f"flowy_tracker_contract_{uuid.uuid4().hex[:12]}", _STEPS)


class TrackerContract:
    """Behaviour tests for a tracker; subclasses provide ``tracker`` and ``events``."""

    #: ``(entry-point name, module path)`` of the plugins that register the tracker.
    plugins: ClassVar[list[tuple[str, str]]] = []
    #: The name a stack uses for it (None skips the registration check).
    name: ClassVar[str | None] = None

    @pytest.fixture
    def tracker(self) -> Any:
        raise NotImplementedError("subclasses of TrackerContract provide a `tracker` fixture")

    def events(self, tracker: Any) -> list[Event]:
        """What ``tracker`` recorded, in order, as ``(hook name, step name or None)``."""
        raise NotImplementedError(
            "subclasses of TrackerContract implement events(tracker): read back what the "
            "tracker recorded as (hook name, step name or None) pairs"
        )

    # -- harness -------------------------------------------------------------

    @pytest.fixture
    def manager(self) -> FlowyPlugins:
        pytest.importorskip("flowy_executor_local")
        pytest.importorskip("flowy_store_sqlite")
        from flowy.kernel.plugins import create_plugin_manager

        first_party = [
            ("flowy-executor-local", "flowy_executor_local.plugin"),
            ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
        ]
        named = [(n, importlib.import_module(m)) for n, m in [*self.plugins, *first_party]]
        return create_plugin_manager(entrypoints=False, plugins=named)

    @pytest.fixture
    def run(
        self, manager: FlowyPlugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> Callable[..., RunResult]:
        """Run ``steps`` (names) on the local stack with the given trackers registered."""
        from flowy.run.engine import run_pipeline
        from flowy.run.pipeline import Pipeline

        project = tmp_path / "project"
        (project / ".flowy").mkdir(parents=True)
        monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
        monkeypatch.delenv("FLOWY_STACK", raising=False)
        module = _steps_module(tmp_path)

        def go(names: list[str], *trackers: Any) -> RunResult:
            pipeline = Pipeline("tracked", [getattr(module, n) for n in names])
            # Registered exactly as the engine registers a stack's tracker for a run.
            for i, tracker in enumerate(trackers):
                manager.pm.register(tracker, name=f"contract-tracker-{i}")
            try:
                return run_pipeline(pipeline, stack="local", plugins=manager, project=project)
            finally:
                for i in range(len(trackers)):
                    manager.pm.unregister(name=f"contract-tracker-{i}")

        return go

    def implemented(self, manager: FlowyPlugins, tracker: Any) -> set[str]:
        manager.pm.register(tracker, name="contract-probe")
        try:
            callers = manager.pm.get_hookcallers(tracker) or []
            return {c.name for c in callers} & set(LIFECYCLE_HOOKS)
        finally:
            manager.pm.unregister(name="contract-probe")

    # -- the contract ----------------------------------------------------------

    def test_implements_lifecycle_hooks(self, tracker: Any, manager: FlowyPlugins) -> None:
        assert self.implemented(manager, tracker), (
            f"{type(tracker).__name__} implements none of {', '.join(LIFECYCLE_HOOKS)} "
            "(decorate its methods with @flowy.hookimpl)"
        )

    def test_receives_every_event_of_real_runs_in_order(
        self, tracker: Any, run: Callable[..., RunResult], manager: FlowyPlugins
    ) -> None:
        hooks = self.implemented(manager, tracker)
        reference = _Reference()
        names = ["prepare", "broken", "downstream", "never"]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = run(names, reference, tracker)
            second = run(names, reference, tracker)
        assert first.status == second.status == "failed"
        assert second.steps["prepare"].status == "cached"
        raised = [str(w.message) for w in caught if "contract-tracker-1 raised" in str(w.message)]
        assert not raised, f"the tracker raised: {raised}"
        assert self.events(tracker) == reference.seen_of(hooks)

    def test_a_tracker_of_step_outcomes_also_records_cached_steps(
        self, tracker: Any, run: Callable[..., RunResult], manager: FlowyPlugins
    ) -> None:
        """A step re-used from the cache is an outcome too: a tracker that records steps
        finishing but ignores ``flowy_step_cached`` shows a re-run as steps that never ran."""
        hooks = self.implemented(manager, tracker)
        outcomes = hooks & {"flowy_step_finished", "flowy_step_failed", "flowy_step_skipped"}
        if not outcomes:
            return  # it tracks runs, not steps
        assert "flowy_step_cached" in hooks, (
            f"{type(tracker).__name__} implements {', '.join(sorted(outcomes))} but not "
            "flowy_step_cached: a step re-used from the cache would be missing from what it "
            "records. Implement flowy_step_cached(run, task, entry) and record the step."
        )
        run(["prepare"], tracker)
        before = len(self.events(tracker))
        second = run(["prepare"], tracker)
        assert second.steps["prepare"].status == "cached"
        assert ("flowy_step_cached", "prepare") in self.events(tracker)[before:], (
            f"{type(tracker).__name__}.flowy_step_cached was called for the cached step "
            "'prepare' but events() shows no ('flowy_step_cached', 'prepare'): record it."
        )

    def test_a_raising_tracker_never_fails_the_run_nor_starves_this_one(
        self, tracker: Any, run: Callable[..., RunResult], manager: FlowyPlugins
    ) -> None:
        hooks = self.implemented(manager, tracker)
        reference = _Reference()
        with pytest.warns(RuntimeWarning, match="raising tracker"):
            result = run(["prepare"], _Raising(), reference, tracker)
        assert result.status == "completed"
        assert self.events(tracker) == reference.seen_of(hooks)

    def test_registered_under_its_name(self, tracker: Any, manager: FlowyPlugins) -> None:
        if self.name is None:  # not registered by a plugin: it must still implement hooks
            assert self.implemented(manager, tracker), "the tracker implements no lifecycle hook"
            return
        assert manager.registry.get("tracker", self.name).load() is type(tracker)

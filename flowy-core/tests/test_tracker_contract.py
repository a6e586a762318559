"""The tracker contract: a minimal tracker passes it, and broken ones are caught."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from flowy import hookimpl
from flowy.testing import TrackerContract


class MemoryTracker:
    """Remembers the step events it sees (not every hook: a subset must be enough)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    @hookimpl
    def flowy_pipeline_started(self, run):
        self.seen.append(("flowy_pipeline_started", None))

    @hookimpl
    def flowy_step_finished(self, run, task, result):
        self.seen.append(("flowy_step_finished", task.step))

    @hookimpl
    def flowy_step_failed(self, run, task, result):
        self.seen.append(("flowy_step_failed", task.step))

    @hookimpl
    def flowy_step_cached(self, run, task, entry):
        self.seen.append(("flowy_step_cached", task.step))

    @hookimpl
    def flowy_step_skipped(self, run, step, reason):
        self.seen.append(("flowy_step_skipped", step))


class TestMemoryTracker(TrackerContract):
    @pytest.fixture
    def tracker(self) -> MemoryTracker:
        return MemoryTracker()

    def events(self, tracker: MemoryTracker) -> list[tuple[str, str | None]]:
        return tracker.seen


BROKEN = '''
import pytest
from flowy import hookimpl
from flowy.testing import TrackerContract


class Forgetful:
    """Loses cached events and raises on failures."""

    def __init__(self):
        self.seen = []

    @hookimpl
    def flowy_step_finished(self, run, task, result):
        self.seen.append(("flowy_step_finished", task.step))

    @hookimpl
    def flowy_step_failed(self, run, task, result):
        raise KeyError("no such field")


class TestForgetful(TrackerContract):
    name = "forgetful"

    @pytest.fixture
    def tracker(self):
        return Forgetful()

    def events(self, tracker):
        return tracker.seen
'''


def test_the_suite_fails_a_tracker_that_raises_or_is_not_registered(tmp_path):
    (tmp_path / "test_forgetful.py").write_text(textwrap.dedent(BROKEN))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout
    assert "the tracker raised" in done.stdout and "KeyError" in done.stdout
    assert "No tracker named 'forgetful'" in done.stdout
    assert "but not flowy_step_cached" in done.stdout  # it loses cached events too
    assert "3 failed" in done.stdout  # exactly those three checks fail; the others pass

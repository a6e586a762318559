"""flowy.testing.TrackerContract, run on the W&B tracker, offline, read back with wandb's reader.

The contract compares the events a tracker saw with a reference recorder's.
W&B keeps no log of hook calls, so each hook method of the real tracker
instance is wrapped to note its call before it runs (the class, and so its
registration under ``wandb``, stays the real one), and :meth:`events` also
checks, through ``wandb leet inspect``, that W&B holds what those events
imply: one ended W&B run per pipeline run, each step's final status in the
run's summary, the failed run failed.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any

import pytest
from flowy.testing.tracker import LIFECYCLE_HOOKS, TrackerContract
from flowy_wandb.tracker import WandbTracker

from .conftest import read_run

pytestmark = pytest.mark.slow


def _noting(seen: list[tuple[str, str | None]], hook: str, method: Any) -> Any:
    # pluggy calls an implementation with its arguments by position, in the order
    # of the method's signature: bind them to names as the real method would.
    signature = inspect.signature(method)

    @functools.wraps(method)  # keeps the hookimpl marker and (via __wrapped__) the signature
    def noted(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs).arguments
        task = bound.get("task")
        seen.append((hook, task.step if task is not None else bound.get("step")))
        return method(*args, **kwargs)

    return noted


class TestWandbTrackerContract(TrackerContract):
    plugins = [("flowy-wandb", "flowy_wandb.plugin")]
    name = "wandb"

    @pytest.fixture
    def tracker(self, tmp_path: Path) -> WandbTracker:
        tracker = WandbTracker(project="contract", mode="offline", dir=str(tmp_path / "wb"))
        tracker.seen = []  # type: ignore[attr-defined]
        for hook in LIFECYCLE_HOOKS:
            method = getattr(tracker, hook, None)
            if method is not None:
                setattr(tracker, hook, _noting(tracker.seen, hook, method))  # type: ignore[attr-defined]
        return tracker

    def events(self, tracker: WandbTracker) -> list[tuple[str, str | None]]:
        seen: list[tuple[str, str | None]] = tracker.seen  # type: ignore[attr-defined]
        assert tracker.dir is not None
        runs = [read_run(f) for f in Path(tracker.dir).rglob("offline-run-*/run-*.wandb")]
        assert len(runs) == sum(1 for hook, _ in seen if hook == "flowy_pipeline_started")
        for run in runs:
            assert run.state["project"] == "contract"
            status = run.summary["flowy/status"]
            assert run.state["state"] == ("finished" if status == "completed" else "failed")
            steps = {k[len("flowy/steps/") :]: v["status"] for k, v in run.summary.items()
                     if k.startswith("flowy/steps/")}  # fmt: skip
            assert steps, run.summary
            if status == "failed":
                assert steps.get("broken") == "failed" and steps.get("never") == "skipped"
        return seen

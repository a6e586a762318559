"""flowy.testing.TrackerContract, run on the MLflow tracker against a real SQLite tracking store.

The contract compares the events a tracker saw with a reference recorder's.
MLflow keeps no order of events, so each hook method of the real tracker
instance is wrapped to note its call before it runs (the class, and so its
registration under ``mlflow``, stays the real one), and :meth:`events` also
checks that MLflow holds what those events imply: one ended run per pipeline
run, each step's final status as a tag.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any

import pytest
from flowy.testing.tracker import LIFECYCLE_HOOKS, TrackerContract
from flowy_mlflow.tracker import MlflowTracker
from mlflow.tracking import MlflowClient

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


class TestMlflowTrackerContract(TrackerContract):
    plugins = [("flowy-mlflow", "flowy_mlflow.plugin")]
    name = "mlflow"

    @pytest.fixture
    def tracker(self, tmp_path: Path) -> MlflowTracker:
        tracker = MlflowTracker(
            tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", experiment="contract"
        )
        tracker.seen = []  # type: ignore[attr-defined]
        for hook in LIFECYCLE_HOOKS:
            method = getattr(tracker, hook, None)
            if method is not None:
                setattr(tracker, hook, _noting(tracker.seen, hook, method))  # type: ignore[attr-defined]
        return tracker

    def events(self, tracker: MlflowTracker) -> list[tuple[str, str | None]]:
        seen: list[tuple[str, str | None]] = tracker.seen  # type: ignore[attr-defined]
        client = MlflowClient(tracking_uri=tracker.tracking_uri)
        experiment = client.get_experiment_by_name("contract")
        runs = client.search_runs([experiment.experiment_id]) if experiment else []
        assert len(runs) == sum(1 for hook, _ in seen if hook == "flowy_pipeline_started")
        for run in runs:
            assert run.info.status in ("FINISHED", "FAILED"), run.info.status
            steps = {k[len("flowy.step.") :]: v for k, v in run.data.tags.items()
                     if k.startswith("flowy.step.")}  # fmt: skip
            assert steps, run.data.tags
            if run.info.status == "FAILED":
                assert steps.get("broken") == "failed" and steps.get("never") == "skipped"
        return seen

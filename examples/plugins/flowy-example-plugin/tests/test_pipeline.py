"""The plugin at work in a real pipeline, with the pytest fixtures Flowy ships.

``flowy_project`` is a throwaway project (its own ``.flowy/`` and FLOWY_HOME),
``flowy_plugins`` builds a plugin manager holding only the plugins named, and
``flowy_run`` runs a pipeline there, optionally with steps replaced by fixed
outputs (``mocks=``, built on ``flowy.testing.mock_step``).
"""

from __future__ import annotations

import importlib
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from flowy import Pipeline, step
from flowy.stacks import StackDefinition, save_stack
from flowy_example_plugin.tracker import read_events


@step
def ratio(total: int) -> Fraction:
    return Fraction(total, 7)


@step
def doubled(ratio: Fraction) -> Fraction:
    return ratio * 2


PIPELINE = Pipeline("fractions", [ratio, doubled], context={"total": 3})


@pytest.fixture
def plugins(flowy_plugins: Any) -> Any:
    modules = [
        ("flowy-example-plugin", "flowy_example_plugin.plugin"),
        ("flowy-executor-local", "flowy_executor_local.plugin"),
        ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
    ]
    return flowy_plugins(*[(n, importlib.import_module(m)) for n, m in modules])


@pytest.fixture
def tracked(flowy_project: Path) -> Path:
    """A stack like `local` plus this plugin's tracker, writing into the project."""
    components = {
        "executor": {"type": "local"},
        "metadata_store": {"type": "sqlite", "url": "sqlite:///{project}/.flowy/metadata.db"},
        "artifact_store": {"type": "local", "path": "{project}/.flowy/artifacts"},
        "tracker": {"type": "jsonl", "path": "{project}/events.jsonl"},
    }
    save_stack(StackDefinition("tracked", components, "test"), "project", flowy_project)
    return flowy_project / "events.jsonl"


def test_fractions_are_stored_by_the_plugin_and_every_event_tracked(
    flowy_run: Any, plugins: Any, tracked: Path
) -> None:
    result = flowy_run(PIPELINE, stack="tracked", plugins=plugins)
    assert result.status == "completed"
    assert result["doubled"] == Fraction(6, 7)
    events = read_events(tracked)
    assert events[0]["event"] == "flowy_pipeline_started"
    assert events[-1] == {**events[-1], "event": "flowy_pipeline_finished", "status": "completed"}
    finished = [e for e in events if e["event"] == "flowy_step_finished"]
    assert [e["outputs"] for e in finished] == [{"ratio": "fraction"}, {"doubled": "fraction"}]


def test_a_mocked_upstream_step(flowy_run: Any, plugins: Any, tracked: Path) -> None:
    result = flowy_run(PIPELINE, stack="tracked", plugins=plugins, mocks={"ratio": Fraction(1, 2)})
    assert result["doubled"] == 1
    assert {e.get("step") for e in read_events(tracked)} >= {"ratio", "doubled"}

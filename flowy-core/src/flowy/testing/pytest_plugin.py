"""Pytest fixtures for pipeline and plugin authors (registered by entry point).

* ``flowy_project``: a temporary project folder with its own ``.flowy/`` and a
  temporary ``FLOWY_HOME``, so tests never touch the user's config or stores.
* ``flowy_plugins``: a factory for plugin managers; by default it loads the
  installed plugins, ``flowy_plugins(my_plugin_module, entrypoints=False)``
  installs only the plugin under test (plus flowy-core's built-ins).
* ``flowy_run``: run a pipeline in ``flowy_project``, optionally with steps
  replaced by fixed outputs: ``flowy_run(pipeline, mocks={"load": data})``.

This module is imported by pytest at start-up, so it imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from flowy.kernel.plugins import FlowyPlugins
    from flowy.run.engine import RunResult
    from flowy.run.pipeline import Pipeline


@pytest.fixture
def flowy_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated Flowy project; the working directory for the test."""
    root = tmp_path / "flowy-project"
    (root / ".flowy").mkdir(parents=True)
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "flowy-home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(root))
    monkeypatch.delenv("FLOWY_STACK", raising=False)
    monkeypatch.chdir(root)
    yield root


@pytest.fixture
def flowy_plugins() -> Callable[..., FlowyPlugins]:
    """Build a plugin manager: installed plugins, or only the ones given."""
    from flowy.kernel.plugins import create_plugin_manager

    def make(
        *modules: ModuleType | tuple[str, object], entrypoints: bool | None = None
    ) -> FlowyPlugins:
        named = [
            m if isinstance(m, tuple) else (getattr(m, "__name__", repr(m)), m) for m in modules
        ]
        autoload = (not named) if entrypoints is None else entrypoints
        return create_plugin_manager(entrypoints=autoload, plugins=named)

    return make


@pytest.fixture
def flowy_run(
    flowy_project: Path, flowy_plugins: Callable[..., FlowyPlugins]
) -> Callable[..., RunResult]:
    """Run a pipeline in the test's project: ``flowy_run(p, stack=None, mocks=None, **params)``."""
    from flowy.run.engine import run_pipeline
    from flowy.testing.mocking import mock_steps

    def run(
        pipeline: Pipeline,
        *,
        stack: str | None = None,
        mocks: Mapping[str, Any] | None = None,
        plugins: FlowyPlugins | None = None,
        no_cache: bool = False,
        **params: Any,
    ) -> RunResult:
        if mocks:
            pipeline = mock_steps(pipeline, mocks)
        return run_pipeline(
            pipeline,
            stack=stack,
            params=params,
            no_cache=no_cache,
            plugins=plugins or flowy_plugins(),
            project=flowy_project,
        )

    return run

"""Shared fixtures for cross-package tests: an isolated project and plugin manager."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest
from flowy.kernel.plugins import FlowyPlugins, create_plugin_manager

FIRST_PARTY = [
    ("flowy-executor-local", "flowy_executor_local.plugin"),
    ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
    ("flowy-materializers", "flowy_materializers.plugin"),
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project folder; the user's FLOWY_HOME is a temp folder too."""
    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(root))
    monkeypatch.delenv("FLOWY_STACK", raising=False)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def plugins() -> FlowyPlugins:
    """The first-party plugins, registered explicitly (nothing autoloaded)."""
    return create_plugin_manager(
        entrypoints=False,
        plugins=[(name, importlib.import_module(module)) for name, module in FIRST_PARTY],
    )


@pytest.fixture
def write_module(tmp_path: Path):
    """Write Python source to a uniquely named module file and import it."""
    counter = {"n": 0}

    def write(source: str, name: str | None = None):
        counter["n"] += 1
        name = name or f"user_pipeline_{counter['n']}"
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        module.__flowy_path__ = str(path)  # type: ignore[attr-defined]
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    return write

"""Fixtures for flowy-materializers tests: an isolated project and explicit plugins.

Modelled on the repository's top-level tests/conftest.py: nothing is
autoloaded from entry points; each test's plugin manager holds the
first-party plugins it needs, and FLOWY_HOME/FLOWY_PROJECT point into tmp_path.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from flowy.kernel.plugins import FlowyPlugins, create_plugin_manager

# Helper modules (fm_payloads, fm_models) must be importable by name: skops,
# pickle and the torch module materializer look classes up that way.
sys.path.insert(0, str(Path(__file__).parent))

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
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where planted payloads would write if they ran (FLOWY_TEST_MARKER tells them)."""
    path = tmp_path / "PWNED"
    monkeypatch.setenv("FLOWY_TEST_MARKER", str(path))
    return path

"""Fixtures for flowy-executor-local's tests: an explicit plugin manager, nothing autoloaded."""

from __future__ import annotations

import importlib

import pytest
from flowy.kernel.plugins import FlowyPlugins, create_plugin_manager


@pytest.fixture
def local_plugins() -> FlowyPlugins:
    return create_plugin_manager(
        entrypoints=False,
        plugins=[
            ("flowy-executor-local", importlib.import_module("flowy_executor_local.plugin")),
            ("flowy-store-sqlite", importlib.import_module("flowy_store_sqlite.plugin")),
        ],
    )

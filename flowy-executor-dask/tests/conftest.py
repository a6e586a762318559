"""Fixtures for flowy-executor-dask's tests: one real LocalCluster (worker processes) per module."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flowy.kernel.plugins import FlowyPlugins, create_plugin_manager


@pytest.fixture
def dask_plugins() -> FlowyPlugins:
    return create_plugin_manager(
        entrypoints=False,
        plugins=[
            ("flowy-executor-dask", importlib.import_module("flowy_executor_dask.plugin")),
            ("flowy-executor-local", importlib.import_module("flowy_executor_local.plugin")),
            ("flowy-store-sqlite", importlib.import_module("flowy_store_sqlite.plugin")),
        ],
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two single-threaded worker processes offering one ``cpu`` each."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        resources={"cpu": 1},
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as running:
        yield running

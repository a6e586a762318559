"""The executor contract suite against ``local``: sequential, and parallel in worker processes."""

from __future__ import annotations

from typing import Any

import pytest
from flowy.testing import ExecutorContract


class TestLocalSequential(ExecutorContract):
    concurrent = False

    @pytest.fixture
    def executor_plugins(self, local_plugins: Any) -> Any:
        return local_plugins

    @pytest.fixture
    def executor_component(self) -> dict[str, Any]:
        return {"type": "local", "max_workers": 1}


class TestLocalParallel(ExecutorContract):
    concurrent = True
    cpu_total = 2
    cpu_per_step = 1

    @pytest.fixture
    def executor_plugins(self, local_plugins: Any) -> Any:
        return local_plugins

    @pytest.fixture
    def executor_component(self) -> dict[str, Any]:
        return {"type": "local", "max_workers": 2}


class TestLocalParallelWholeMachineSteps(ExecutorContract):
    """Steps that each ask for every CPU must run one at a time."""

    concurrent = True
    cpu_total = 2
    cpu_per_step = 2
    dag_examples = 3

    @pytest.fixture
    def executor_plugins(self, local_plugins: Any) -> Any:
        return local_plugins

    @pytest.fixture
    def executor_component(self) -> dict[str, Any]:
        return {"type": "local", "max_workers": 2}


class TestLocalParallelForkserver(ExecutorContract):
    """Workers started by a fork server import every step by reference or by path."""

    concurrent = True
    cpu_total = 3
    dag_examples = 3

    @pytest.fixture
    def executor_plugins(self, local_plugins: Any) -> Any:
        return local_plugins

    @pytest.fixture
    def executor_component(self) -> dict[str, Any]:
        return {"type": "local", "max_workers": 3, "start_method": "forkserver"}


class TestLocalParallelSpawn(ExecutorContract):
    """``spawn`` workers: clean interpreters that find steps by name or by file."""

    concurrent = True
    cpu_total = 2
    dag_examples = 2

    @pytest.fixture
    def executor_plugins(self, local_plugins: Any) -> Any:
        return local_plugins

    @pytest.fixture
    def executor_component(self) -> dict[str, Any]:
        return {"type": "local", "max_workers": 2, "start_method": "spawn"}

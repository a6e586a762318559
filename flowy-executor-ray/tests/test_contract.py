"""The executor contract suite, random-DAG property test included, against ``ray``.

On the session's real Ray cluster (see conftest: 2 CPUs, started with ``ray start``);
the executor is given the cluster's address and finds this process connected to it.
"""

from __future__ import annotations

from typing import Any

import pytest
from flowy.testing import ExecutorContract

pytestmark = pytest.mark.slow


class TestRay(ExecutorContract):
    concurrent = True
    cpu_total = 2
    cpu_per_step = 1
    dag_examples = 8

    @pytest.fixture
    def executor_plugins(self, ray_plugins: Any) -> Any:
        return ray_plugins

    @pytest.fixture
    def executor_component(self, ray_cluster: str) -> dict[str, Any]:
        return {"type": "ray", "address": ray_cluster}

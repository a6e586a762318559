"""The executor contract suite against ``dask`` on a real LocalCluster with worker processes."""

from __future__ import annotations

from typing import Any

import pytest
from flowy.testing import ExecutorContract

pytestmark = pytest.mark.slow


class TestDask(ExecutorContract):
    concurrent = True
    cpu_total = 2
    cpu_per_step = 1
    dag_examples = 6

    @pytest.fixture
    def executor_plugins(self, dask_plugins: Any) -> Any:
        return dask_plugins

    @pytest.fixture
    def executor_component(self, cluster: Any) -> dict[str, Any]:
        return {"type": "dask", "address": cluster.scheduler_address}

"""The dask executor beyond the contract: its own cluster, resources, the shared-store check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flowy import Pipeline
from flowy.kernel.errors import FlowyError
from flowy.run.engine import run_pipeline
from flowy.run.steps import Step
from flowy.stacks.definitions import get_stack
from flowy.stacks.resolution import check_stack
from flowy.testing import _contract_steps as S
from flowy.testing._executor_support import alive
from flowy_executor_dask.executor import check_shared_store, is_local_store, is_remote_address


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / ".flowy").mkdir(parents=True)
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(root))
    monkeypatch.delenv("FLOWY_STACK", raising=False)
    return root


class _Store:
    def __init__(self, uri: str) -> None:
        self.uri = uri

    def uri_for(self, key: str) -> str:
        return self.uri + key

    def describe(self) -> dict[str, Any]:
        return {}


def test_remote_scheduler_with_a_local_store_is_refused_with_the_fix() -> None:
    local, s3 = _Store("/data/artifacts/"), _Store("s3://bucket/artifacts/")
    with pytest.raises(FlowyError, match="shared artifact store such as s3"):
        check_shared_store("tcp://10.1.2.3:8786", local, shared_filesystem=False)  # type: ignore[arg-type]
    check_shared_store("tcp://10.1.2.3:8786", s3, shared_filesystem=False)  # type: ignore[arg-type]
    check_shared_store("tcp://10.1.2.3:8786", local, shared_filesystem=True)  # type: ignore[arg-type]
    check_shared_store("tcp://127.0.0.1:8786", local, shared_filesystem=False)  # type: ignore[arg-type]
    check_shared_store(None, local, shared_filesystem=False)  # type: ignore[arg-type]
    assert is_local_store(local) and not is_local_store(s3)  # type: ignore[arg-type]
    assert not is_remote_address("localhost:8786") and not is_remote_address("inproc://x/1")
    assert is_remote_address("tcp://scheduler.example.com:8786")


def test_the_dask_stack_is_offered_and_resolves(project: Path, dask_plugins: Any) -> None:
    defn = get_stack("dask", dask_plugins, project)
    assert defn.components["executor"]["type"] == "dask"
    checked = check_stack(defn, dask_plugins, project)
    assert checked["executor"].cls.__name__ == "DaskExecutor"


def test_a_run_refuses_a_remote_scheduler_with_a_local_store(
    project: Path, dask_plugins: Any
) -> None:
    p = Pipeline("remote", [S.alone], context={"marks": str(project)})
    with pytest.raises(FlowyError, match="cannot read or write"):
        run_pipeline(
            p,
            stack="dask",
            plugins=dask_plugins,
            project=project,
            executor_options={"address": "tcp://10.255.255.1:8786"},
        )


@pytest.mark.slow
def test_default_starts_and_closes_its_own_local_cluster(project: Path, dask_plugins: Any) -> None:
    marks = project / "marks"
    marks.mkdir()
    p = Pipeline("own-cluster", [S.top, S.left, S.right, S.bottom], context={"marks": str(marks)})
    result = run_pipeline(
        p,
        stack="dask",
        plugins=dask_plugins,
        project=project,
        executor_options={"n_workers": 2},
    )
    assert result.status == "completed" and result["bottom"] == 112
    worker_pids = {int(f.read_text().split()[0]) for f in marks.glob("*.mark")}
    assert worker_pids and all(not alive(pid) for pid in worker_pids), "cluster left running"


@pytest.mark.slow
def test_a_resource_no_worker_offers_fails_the_step_instead_of_hanging(
    project: Path, dask_plugins: Any, cluster: Any
) -> None:
    greedy = Step(S.alone.fn, name="alone", resources={"gpu": 1})
    p = Pipeline("greedy", [greedy], context={"marks": str(project)})
    result = run_pipeline(
        p,
        stack="dask",
        plugins=dask_plugins,
        project=project,
        executor_options={"address": cluster.scheduler_address},
    )
    rec = result.steps["alone"]
    assert rec.status == "failed" and rec.error is not None
    assert "gpu=1" in rec.error and "worker_resources" in rec.error


@pytest.mark.slow
def test_resource_names_map_to_dask_worker_resources(
    project: Path, dask_plugins: Any, cluster: Any
) -> None:
    mapped = Step(S.alone.fn, name="alone", resources={"cores": 1})
    p = Pipeline("mapped", [mapped], context={"marks": str(project)})
    result = run_pipeline(
        p,
        stack="dask",
        plugins=dask_plugins,
        project=project,
        executor_options={"address": cluster.scheduler_address, "resources": {"cores": "cpu"}},
    )
    assert result.status == "completed"

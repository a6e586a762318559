"""The azureml executor in local mode: the job entrypoint in a subprocess, manifests in Azurite.

The executor contract suite from flowy.testing runs on a stack of the azureml
executor (local mode) and the azure_blob store, so every step goes manifest
-> Blob Storage -> ``python -m flowy_azure.entrypoint`` -> result manifest,
exactly the command an Azure ML job runs.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flowy.testing.executor import ExecutorContract
from flowy_azure.azureml import AzureMLExecutor

pytestmark = pytest.mark.slow  # starts Azurite (Node.js) and a process per step


class TestAzureMLLocalContract(ExecutorContract):
    concurrent: ClassVar[bool] = True
    cpu_total: ClassVar[float] = 2  # max_parallel_jobs: each job is its own machine
    cpu_per_step: ClassVar[float] = 1
    dag_examples: ClassVar[int] = 3
    streams_output: ClassVar[bool] = False  # a job's output arrives with its result only

    @pytest.fixture(autouse=True)
    def _azure(self, store_options: dict[str, Any]) -> None:
        self._store_options = store_options

    @property  # type: ignore[override]
    def store_components(self) -> dict[str, dict[str, Any]]:
        return {
            "metadata_store": {"type": "sqlite", "url": "sqlite:///{project}/.flowy/metadata.db"},
            "artifact_store": {"type": "azure_blob", **self._store_options},
        }

    @pytest.fixture
    def executor_plugins(self, azure_plugins: Any) -> Any:
        return azure_plugins

    @pytest.fixture
    def executor_component(self) -> dict[str, Any]:
        return {"type": "azureml", "mode": "local", "max_parallel_jobs": 2, "poll_interval": 0.05}


PIPELINE = """
import os
import flowy
from flowy import Context, Pipeline, step

@step
def numbers(n: int) -> list:
    print("making", n, "numbers")
    return list(range(n))

@step(retries=2, retry_backoff=0.01)
def total(numbers: list, counter: str) -> int:
    count = int(open(counter).read()) if os.path.exists(counter) else 0
    open(counter, "w").write(str(count + 1))
    if count == 0:
        raise ConnectionError("first attempt fails")
    flowy.log_metric("total", sum(numbers))
    return sum(numbers)

@step
def broken(numbers: list) -> int:
    raise ValueError("bad data in the step")

@step
def after_broken(broken: int) -> int:
    return broken

pipeline = Pipeline("local-mode", [numbers, total, broken, after_broken],
                    context=Context(n=10, counter="counter.txt"))
"""


@pytest.fixture
def azure_stack(project: Path, store_options: dict[str, Any]) -> str:
    """A project stack: azureml executor in local mode, azure_blob on Azurite, SQLite metadata."""
    stacks = project / ".flowy" / "stacks"
    stacks.mkdir(exist_ok=True)
    table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in store_options.items())
    (stacks / "azlocal.toml").write_text(
        '[executor]\ntype = "azureml"\nmode = "local"\npoll_interval = 0.05\n'
        f'[metadata_store]\ntype = "sqlite"\nurl = "sqlite:///{project}/.flowy/meta.db"\n'
        f'[artifact_store]\ntype = "azure_blob"\n{table}\n'
    )
    return "azlocal"


def test_failing_and_retried_steps_through_the_entrypoint(
    project: Path,
    azure_plugins: Any,
    azure_stack: str,
    store_options: dict[str, Any],
    blob_service: Any,
) -> None:
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module
    from flowy.stacks.resolution import resolve_stack

    (project / "pipe.py").write_text(PIPELINE)
    module = load_module(project / "pipe.py")
    counter = str(project / "counter.txt")
    result = run_pipeline(
        module.pipeline,
        stack=azure_stack,
        plugins=azure_plugins,
        project=project,
        params={"counter": counter},
    )
    steps = result.steps
    assert result.status == "failed"
    assert steps["numbers"].status == "completed" and "making 10 numbers" in steps["numbers"].logs
    assert steps["total"].status == "completed" and steps["total"].attempts == 2
    assert steps["broken"].status == "failed" and steps["broken"].attempts == 1
    assert steps["broken"].error == "ValueError: bad data in the step"
    assert "Traceback" in (steps["broken"].traceback or "")
    assert steps["after_broken"].status == "skipped"
    assert result["total"] == 45
    # outputs are blobs; manifests and results sit under the staging prefix
    container = store_options["container"]
    assert result.artifacts["total"].uri.startswith(f"az://{container}/artifacts/")
    names = [b.name for b in blob_service.get_container_client(container).list_blobs()]
    assert any(n.endswith("/task.json") for n in names)
    assert any(n.endswith("/result.json") for n in names)
    assert any("/flowy-jobs/code/" in n and n.endswith("/pipe.py") for n in names)
    stack = resolve_stack(azure_stack, azure_plugins, project)
    try:
        metrics = stack.metadata_store.get_metrics(result.run_id)
        assert [(s, m.name, m.value) for s, m in metrics] == [("total", "total", 45.0)]
    finally:
        stack.close()


def test_the_example_pipeline_runs_with_artifacts_in_blob_storage(
    project: Path, azure_plugins: Any, azure_stack: str
) -> None:
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module

    example = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "pipeline.py"
    module = load_module(example)
    result = run_pipeline(
        module.pipeline, stack=azure_stack, plugins=azure_plugins, project=project
    )
    assert result.status == "completed", {k: v.error for k, v in result.steps.items()}
    assert all(ref.uri.startswith("az://") for ref in result.artifacts.values())
    assert result["evaluate"]["r2"] > 0.9


def test_entrypoint_reports_a_bad_manifest(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowy.remote_jobs import read_result
    from flowy_azure import entrypoint

    uri = store.uri_for("flowy-jobs/run/step/a1/task.json")
    store.write_bytes(uri, json.dumps({"flowy_manifest": 99}).encode())
    monkeypatch.setenv("FLOWY_AZURE_ACCOUNT_NAME", store.account)
    monkeypatch.setenv("FLOWY_AZURE_ENDPOINT_URL", store.endpoint)
    assert entrypoint.main([uri]) == 1
    result = read_result(store, uri.replace("task.json", "result.json"))
    assert result is not None and result.status == "failed" and not result.retryable
    assert "version 99 step manifest" in (result.error or "")
    assert result.error_type == "flowy_azure.EntrypointError"
    assert entrypoint.main([]) == 2
    assert entrypoint.main(["s3://bucket/task.json"]) == 2
    monkeypatch.delenv("FLOWY_AZURE_ACCOUNT_NAME")
    assert entrypoint.main([uri]) == 2


def test_executor_needs_the_azure_blob_store(tmp_path: Path) -> None:
    from flowy.artifacts.resolution import MaterializerRegistry
    from flowy.kernel.errors import ConfigError
    from flowy.kernel.plugins import create_plugin_manager
    from flowy.run.worker import WorkerRuntime

    local = importlib.import_module("flowy_store_sqlite.local_store").LocalArtifactStore
    executor = AzureMLExecutor(mode="local")
    runtime = WorkerRuntime(
        local(str(tmp_path)),
        MaterializerRegistry(create_plugin_manager(entrypoints=False).registry),
    )
    with pytest.raises(ConfigError, match="needs the azure_blob artifact store"):
        executor.bind(runtime)
    executor.shutdown()


def test_local_jobs_get_the_store_location_and_user_variables(store: Any) -> None:
    executor = AzureMLExecutor(mode="local", environment={"MY_FLAG": "1"})
    executor.store = store
    env = executor.job_environment()
    assert env == {
        "FLOWY_AZURE_ACCOUNT_NAME": store.account,
        "FLOWY_AZURE_ENDPOINT_URL": store.endpoint,
        "MY_FLAG": "1",
    }
    assert "AZURE_STORAGE_ACCOUNT_KEY" not in env  # secrets are never copied into a job
    assert os.environ["AZURE_STORAGE_ACCOUNT_KEY"]  # (the local process inherits them)
    executor.shutdown()

"""The sagemaker executor in local mode: the job entrypoint in a subprocess, inputs in moto S3.

The executor contract suite from flowy.testing runs on a stack of the
sagemaker executor (local mode) and the s3 store, so every step goes
manifest -> S3 -> ``python -m flowy_aws.entrypoint`` -> result manifest.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flowy.testing.executor import ExecutorContract
from flowy_aws.sagemaker import SageMakerExecutor


class TestSageMakerLocalContract(ExecutorContract):
    concurrent: ClassVar[bool] = True
    cpu_total: ClassVar[float] = 2  # max_parallel_jobs: each job is its own machine
    cpu_per_step: ClassVar[float] = 1
    dag_examples: ClassVar[int] = 3
    streams_output: ClassVar[bool] = False  # a job's output arrives with its result only

    @pytest.fixture(autouse=True)
    def _s3(self, store_options: dict[str, Any]) -> None:
        self._store_options = store_options

    @property  # type: ignore[override]
    def store_components(self) -> dict[str, dict[str, Any]]:
        return {
            "metadata_store": {"type": "sqlite", "url": "sqlite:///{project}/.flowy/metadata.db"},
            "artifact_store": {"type": "s3", **self._store_options},
        }

    @pytest.fixture
    def executor_plugins(self, aws_plugins: Any) -> Any:
        return aws_plugins

    @pytest.fixture
    def executor_component(self) -> dict[str, Any]:
        return {"type": "sagemaker", "mode": "local", "max_parallel_jobs": 2, "poll_interval": 0.05}


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
def aws_stack(project: Path, store_options: dict[str, Any]) -> str:
    """A project stack: sagemaker executor in local mode, s3 store on moto, SQLite metadata."""
    stacks = project / ".flowy" / "stacks"
    stacks.mkdir(exist_ok=True)
    table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in store_options.items())
    (stacks / "s3local.toml").write_text(
        '[executor]\ntype = "sagemaker"\nmode = "local"\npoll_interval = 0.05\n'
        f'[metadata_store]\ntype = "sqlite"\nurl = "sqlite:///{project}/.flowy/meta.db"\n'
        f'[artifact_store]\ntype = "s3"\n{table}\n'
    )
    return "s3local"


def test_failing_and_retried_steps_through_the_entrypoint(
    project: Path, aws_plugins: Any, aws_stack: str, store_options: dict[str, Any], s3_client: Any
) -> None:
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module
    from flowy.stacks.resolution import resolve_stack

    (project / "pipe.py").write_text(PIPELINE)
    module = load_module(project / "pipe.py")
    counter = str(project / "counter.txt")
    result = run_pipeline(
        module.pipeline,
        stack=aws_stack,
        plugins=aws_plugins,
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
    # outputs are S3 objects; manifests and results sit under the staging prefix
    assert result.artifacts["total"].uri.startswith(f"s3://{store_options['bucket']}/artifacts/")
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=store_options["bucket"])["Contents"]]
    assert any(k.endswith("/task.json") for k in keys) and any(
        k.endswith("/result.json") for k in keys
    )
    assert any("/flowy-jobs/code/" in k and k.endswith("/pipe.py") for k in keys)
    stack = resolve_stack(aws_stack, aws_plugins, project)
    try:
        metrics = stack.metadata_store.get_metrics(result.run_id)
        assert [(s, m.name, m.value) for s, m in metrics] == [("total", "total", 45.0)]
    finally:
        stack.close()


def test_the_example_pipeline_runs_with_artifacts_in_s3(
    project: Path, aws_plugins: Any, aws_stack: str
) -> None:
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module

    example = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "pipeline.py"
    module = load_module(example)
    result = run_pipeline(module.pipeline, stack=aws_stack, plugins=aws_plugins, project=project)
    assert result.status == "completed", {k: v.error for k, v in result.steps.items()}
    assert all(ref.uri.startswith("s3://") for ref in result.artifacts.values())
    assert result["evaluate"]["r2"] > 0.9


def test_entrypoint_reports_a_bad_manifest(store: Any) -> None:
    from flowy_aws import entrypoint, staging

    uri = store.uri_for("flowy-jobs/run/step/a1/task.json")
    store.write_bytes(uri, json.dumps({"flowy_manifest": 99}).encode())
    import os

    os.environ["FLOWY_AWS_ENDPOINT_URL"] = store.options.endpoint_url
    try:
        assert entrypoint.main([uri]) == 1
    finally:
        del os.environ["FLOWY_AWS_ENDPOINT_URL"]
    result = staging.read_result(store, uri.replace("task.json", "result.json"))
    assert result is not None and result.status == "failed" and not result.retryable
    assert "version 99 step manifest" in (result.error or "")
    assert entrypoint.main([]) == 2


def test_executor_needs_the_s3_store(tmp_path: Path) -> None:
    from flowy.artifacts.resolution import MaterializerRegistry
    from flowy.kernel.errors import ConfigError
    from flowy.kernel.plugins import create_plugin_manager
    from flowy.run.worker import WorkerRuntime

    local = importlib.import_module("flowy_store_sqlite.local_store").LocalArtifactStore
    executor = SageMakerExecutor(mode="local")
    runtime = WorkerRuntime(
        local(str(tmp_path)),
        MaterializerRegistry(create_plugin_manager(entrypoints=False).registry),
    )
    with pytest.raises(ConfigError, match="needs the s3 artifact store"):
        executor.bind(runtime)
    executor.shutdown()


MAPPED = """
from flowy import Pipeline, step

@step
def shards() -> list:
    return [[1, 2], [3], [4, 5, 6]]

@step(map="shards", outputs=["sums"])
def shard_sum(shards: list) -> int:
    return sum(shards)

@step
def total(sums: list) -> int:
    return sum(sums)

pipeline = Pipeline("mapped-jobs", [shards, shard_sum, total])
"""


def test_a_map_runs_one_job_per_element_with_elements_in_s3(
    project: Path, aws_plugins: Any, aws_stack: str, store_options: dict[str, Any]
) -> None:
    """Issue 14: each element of a map is a job of its own, reading its element from S3."""
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module
    from flowy.stacks.resolution import resolve_stack

    (project / "mapped.py").write_text(MAPPED)
    module = load_module(project / "mapped.py")
    result = run_pipeline(module.pipeline, stack=aws_stack, plugins=aws_plugins, project=project)
    assert result.ok
    assert result["sums"] == [3, 3, 15] and result["total"] == 21
    stack = resolve_stack(aws_stack, aws_plugins, project)
    try:
        records = {r.step: r for r in stack.metadata_store.get_step_runs(result.run_id)}
        element = stack.metadata_store.get_artifact(records["shard_sum[2]"].inputs["shards"])
    finally:
        stack.close()
    assert [records[f"shard_sum[{i}]"].status for i in range(3)] == ["completed"] * 3
    assert element.uri.startswith(f"s3://{store_options['bucket']}/")
    assert "/elements/" in element.uri

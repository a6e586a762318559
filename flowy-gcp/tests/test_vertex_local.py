"""The vertex executor in local mode: the job's entrypoint in a subprocess, data in the emulator.

The executor contract suite from flowy.testing runs on a stack of the
vertex executor (local mode) and the gcs store, so every step goes
manifest -> GCS -> ``python -m flowy_gcp.entrypoint`` -> result manifest, as
in a Vertex AI custom job.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flowy.testing.executor import ExecutorContract
from flowy_gcp.vertex import VertexExecutor

pytestmark = pytest.mark.slow


class TestVertexLocalContract(ExecutorContract):
    concurrent: ClassVar[bool] = True
    cpu_total: ClassVar[float] = 2  # max_parallel_jobs: each job is its own machine
    cpu_per_step: ClassVar[float] = 1
    dag_examples: ClassVar[int] = 3
    streams_output: ClassVar[bool] = False  # a job's output arrives with its result only

    @pytest.fixture(autouse=True)
    def _gcs(self, store_options: dict[str, Any]) -> None:
        self._store_options = store_options

    @property  # type: ignore[override]
    def store_components(self) -> dict[str, dict[str, Any]]:
        return {
            "metadata_store": {"type": "sqlite", "url": "sqlite:///{project}/.flowy/metadata.db"},
            "artifact_store": {"type": "gcs", **self._store_options},
        }

    @pytest.fixture
    def executor_plugins(self, gcp_plugins: Any) -> Any:
        return gcp_plugins

    @pytest.fixture
    def executor_component(self) -> dict[str, Any]:
        return {"type": "vertex", "mode": "local", "max_parallel_jobs": 2}


PIPELINE = """
import os
import flowy
from flowy import Context, Pipeline, step

@step
def numbers(n: int) -> list:
    print("making", n, "numbers on", os.environ.get("FLOWY_GCS_ENDPOINT_URL"))
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
def gcp_stack(project: Path, store_options: dict[str, Any]) -> str:
    """A project stack: vertex executor in local mode, gcs store on the emulator, SQLite."""
    stacks = project / ".flowy" / "stacks"
    stacks.mkdir(exist_ok=True)
    table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in store_options.items())
    (stacks / "gcslocal.toml").write_text(
        '[executor]\ntype = "vertex"\nmode = "local"\n'
        f'[metadata_store]\ntype = "sqlite"\nurl = "sqlite:///{project}/.flowy/meta.db"\n'
        f'[artifact_store]\ntype = "gcs"\n{table}\n'
    )
    return "gcslocal"


def test_failing_and_retried_steps_through_the_entrypoint(
    project: Path,
    gcp_plugins: Any,
    gcp_stack: str,
    store_options: dict[str, Any],
    raw_fs: Any,
    gcs_endpoint: str,
) -> None:
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module
    from flowy.stacks.resolution import resolve_stack

    (project / "pipe.py").write_text(PIPELINE)
    module = load_module(project / "pipe.py")
    counter = str(project / "counter.txt")
    result = run_pipeline(
        module.pipeline,
        stack=gcp_stack,
        plugins=gcp_plugins,
        project=project,
        params={"counter": counter},
    )
    steps = result.steps
    assert result.status == "failed"
    assert steps["numbers"].status == "completed"
    assert f"making 10 numbers on {gcs_endpoint}" in steps["numbers"].logs
    assert steps["total"].status == "completed" and steps["total"].attempts == 2
    assert steps["broken"].status == "failed" and steps["broken"].attempts == 1
    assert steps["broken"].error == "ValueError: bad data in the step"
    assert "Traceback" in (steps["broken"].traceback or "")
    assert steps["after_broken"].status == "skipped"
    assert result["total"] == 45
    bucket = store_options["bucket"]
    assert result.artifacts["total"].uri.startswith(f"gs://{bucket}/artifacts/")
    names = raw_fs.find(bucket)
    assert any(n.endswith("/task.json") for n in names)
    assert any(n.endswith("/result.json") for n in names)
    assert any("/flowy-jobs/code/" in n and n.endswith("/pipe.py") for n in names)
    stack = resolve_stack(gcp_stack, gcp_plugins, project)
    try:
        metrics = stack.metadata_store.get_metrics(result.run_id)
        assert [(s, m.name, m.value) for s, m in metrics] == [("total", "total", 45.0)]
    finally:
        stack.close()


def test_the_example_pipeline_runs_with_artifacts_in_gcs(
    project: Path, gcp_plugins: Any, gcp_stack: str
) -> None:
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module

    example = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "pipeline.py"
    module = load_module(example)
    result = run_pipeline(module.pipeline, stack=gcp_stack, plugins=gcp_plugins, project=project)
    assert result.status == "completed", {k: v.error for k, v in result.steps.items()}
    assert all(ref.uri.startswith("gs://") for ref in result.artifacts.values())
    assert result["evaluate"]["r2"] > 0.9


def test_the_entrypoint_reports_a_bad_manifest_and_bad_usage(store: Any, gcs_endpoint: str) -> None:
    from flowy.remote_jobs import read_result

    uri = store.uri_for("flowy-jobs/run/step/a1/task.json")
    store.write_bytes(uri, json.dumps({"flowy_manifest": 99}).encode())
    env = {**os.environ, "FLOWY_GCS_ENDPOINT_URL": gcs_endpoint, "FLOWY_GCS_ANONYMOUS": "1"}
    command = [sys.executable, "-m", "flowy_gcp.entrypoint"]
    done = subprocess.run([*command, uri], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    result = read_result(store, uri.replace("task.json", "result.json"))
    assert result is not None and result.status == "failed" and not result.retryable
    assert "version 99 step manifest" in (result.error or "")
    assert result.error_type == "flowy_gcp.EntrypointError"
    usage = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert usage.returncode == 2 and "usage: python -m flowy_gcp.entrypoint gs://" in usage.stderr
    s3 = subprocess.run(
        [*command, "s3://b/task.json"], env=env, capture_output=True, text=True, check=False
    )
    assert s3.returncode == 2 and "is not a gs://BUCKET/... URI" in s3.stderr


def test_executor_needs_the_gcs_store(tmp_path: Path) -> None:
    from flowy.artifacts.resolution import MaterializerRegistry
    from flowy.kernel.errors import ConfigError
    from flowy.kernel.plugins import create_plugin_manager
    from flowy.run.worker import WorkerRuntime

    local = importlib.import_module("flowy_store_sqlite.local_store").LocalArtifactStore
    executor = VertexExecutor(mode="local")
    runtime = WorkerRuntime(
        local(str(tmp_path)),
        MaterializerRegistry(create_plugin_manager(entrypoints=False).registry),
    )
    with pytest.raises(ConfigError, match="needs the gcs artifact store"):
        executor.bind(runtime)
    executor.shutdown()

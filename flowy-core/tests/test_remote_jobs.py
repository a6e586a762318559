"""flowy.remote_jobs: the protocol and executor every cloud's job executor shares.

Two executors built on it run here, with the local artifact store holding the
manifests: ``folder_jobs`` in local mode (the job's command in a subprocess,
as SageMaker's and Vertex AI's local modes do) and in ``service`` mode, where
a small job service in this test (:class:`ProcessService`) plays the cloud:
it starts the same command as a process, reports its state, enforces the
step's timeout as a stopping condition, and can be told to fail, stop, hang
or lose a job. The executor contract suite runs on both; the remaining tests
check what the executor makes of each thing a service can report.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from flowy import hookimpl
from flowy.kernel.contracts import ArtifactStore
from flowy.kernel.records import ComponentSpec, StepRef, StepTask
from flowy.remote_jobs import (
    COMPLETED,
    FAILED,
    RUNNING,
    STOPPED,
    TIMED_OUT,
    JobSpec,
    JobStatus,
    RemoteJobError,
    RemoteJobExecutor,
    RemoteJobOptions,
)
from flowy.testing.executor import ExecutorContract

#: The job: the shared entrypoint, its store rebuilt from the environment (as a cloud
#: plugin's ``python -m flowy_<cloud>.entrypoint`` does from the manifest URI).
JOB = """\
import os, sys
from flowy.remote_jobs import entrypoint_main

def store(uri):
    if not os.path.isabs(uri):
        raise SystemExit(f"job: {uri!r} is not a path in the local store")
    from flowy_store_sqlite.local_store import LocalArtifactStore
    return LocalArtifactStore(os.environ["FLOWY_TEST_STORE_ROOT"])

sys.exit(entrypoint_main(None, store, usage="job MANIFEST"))
"""


class ProcessService:
    """A job service on this machine: each job is a process; ``script`` overrides outcomes.

    ``script[step]`` is a list of outcomes, one per attempt (the last repeats):
    ``"run"`` (run the job), ``"fail"``, ``"stop"``, ``"timeout"`` (reported at
    once, the job never runs), ``"hang"`` (running until stopped), ``"lose"``
    (completed without running: no result), ``"refuse"`` (submit raises).
    """

    service = "Local Jobs"
    script: ClassVar[dict[str, list[str]]] = {}
    stopped: ClassVar[list[str]] = []

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.attempts: dict[str, int] = {}
        self.lock = threading.Lock()

    def submit(self, spec: JobSpec) -> str:
        step = spec.task.step
        with self.lock:
            n = self.attempts.get(step, 0)
            self.attempts[step] = n + 1
        plan = self.script.get(step, ["run"])
        outcome = plan[min(n, len(plan) - 1)]
        if outcome == "refuse":
            raise RemoteJobError("quota exceeded for this test service", retryable=True)
        handle = f"jobs/{spec.name}"
        job: dict[str, Any] = {"outcome": outcome, "task": spec.task, "started": time.monotonic()}
        if outcome == "run":
            log = Path(spec.manifest_uri).with_name("job.log")
            job["log"] = log
            with open(log, "wb") as out:
                job["proc"] = subprocess.Popen(
                    list(spec.command),
                    env={**os.environ, **spec.environment},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        self.jobs[handle] = job
        return handle

    def describe(self, handle: str) -> JobStatus:
        job = self.jobs[handle]
        outcome = job["outcome"]
        if outcome == "fail":
            return JobStatus(FAILED, "ImagePullBackOff: no such image")
        if outcome == "stop":
            return JobStatus(STOPPED, "CancelledByUser")
        if outcome == "timeout":
            return JobStatus(TIMED_OUT, "MaxRuntimeExceeded")
        if outcome == "lose":
            return JobStatus(COMPLETED, "Completed")
        if outcome in ("hang", "stopped"):
            return JobStatus(STOPPED if outcome == "stopped" else RUNNING, "Running")
        proc: subprocess.Popen[bytes] = job["proc"]
        code = proc.poll()
        timeout = job["task"].timeout
        if code is None and timeout is not None and time.monotonic() - job["started"] > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return JobStatus(TIMED_OUT, "MaxRuntimeExceeded")
        if code is None:
            return JobStatus(RUNNING, "Running")
        if code == 0:
            return JobStatus(COMPLETED, "Completed")
        return JobStatus(FAILED, f"the job's command exited with code {code}")

    def stop(self, handle: str) -> None:
        self.stopped.append(handle)
        job = self.jobs[handle]
        if job["outcome"] == "hang":
            job["outcome"] = "stopped"
        if "proc" in job:
            try:
                os.killpg(job["proc"].pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def logs(self, handle: str) -> str:
        log = self.jobs[handle].get("log")
        tail = log.read_text()[-200:] if log and log.exists() else ""
        return f"logs: `jobs logs {handle}`" + (f"; last lines: {tail}" if tail else "")


class FolderJobs(RemoteJobExecutor):
    """A remote-job executor over the local store: local mode, or the ProcessService."""

    Options: ClassVar[Any] = RemoteJobOptions
    service: ClassVar[str] = "folder"

    def make_backend(self) -> ProcessService:
        return ProcessService()

    def check_store(self, store: ArtifactStore) -> None:
        from flowy.kernel.errors import ConfigError

        if not hasattr(store, "root"):
            raise ConfigError("folder_jobs needs the local artifact store")

    def command(self, manifest_uri: str) -> tuple[str, ...]:
        return (sys.executable, "-c", JOB, manifest_uri)

    def job_environment(self) -> dict[str, str]:
        root = str(getattr(self.store, "root", ""))
        return {"FLOWY_TEST_STORE_ROOT": root, **super().job_environment()}


class FolderJobsPlugin:
    @hookimpl
    def flowy_register_executors(self, register: Any) -> None:
        register("folder_jobs", f"{__name__}:FolderJobs", description="remote jobs, in tests")


@pytest.fixture
def jobs_plugins() -> Any:
    from flowy.kernel.plugins import create_plugin_manager

    modules = [
        ("flowy-executor-local", "flowy_executor_local.plugin"),
        ("flowy-store-sqlite", "flowy_store_sqlite.plugin"),
    ]
    plugins = [(name, importlib.import_module(module)) for name, module in modules]
    return create_plugin_manager(
        entrypoints=False, plugins=[*plugins, ("folder-jobs", FolderJobsPlugin())]
    )


@pytest.fixture(autouse=True)
def _fresh_script() -> Any:
    ProcessService.script = {}
    ProcessService.stopped = []
    yield
    ProcessService.script = {}


class TestRemoteJobsLocalModeContract(ExecutorContract):
    concurrent: ClassVar[bool] = True
    cpu_total: ClassVar[float] = 2
    cpu_per_step: ClassVar[float] = 1
    dag_examples: ClassVar[int] = 3
    streams_output: ClassVar[bool] = False

    @pytest.fixture
    def executor_plugins(self, jobs_plugins: Any) -> Any:
        return jobs_plugins

    @pytest.fixture
    def executor_component(self) -> dict[str, Any]:
        return {"type": "folder_jobs", "mode": "local", "max_parallel_jobs": 2}


class TestRemoteJobsServiceContract(TestRemoteJobsLocalModeContract):
    """The polling path: every contract test through submit/describe/stop of a service."""

    @pytest.fixture
    def executor_component(self) -> dict[str, Any]:
        return {
            "type": "folder_jobs",
            "mode": "service",
            "max_parallel_jobs": 2,
            "poll_interval": 0.02,
        }


PIPELINE = """
from flowy import Pipeline, step

@step
def prepare() -> list:
    print("preparing")
    return [1, 2, 3]

@step(retries=1, retry_backoff=0.01, timeout=7)
def train(prepare: list) -> int:
    return sum(prepare)

pipeline = Pipeline("remote-jobs", [prepare, train])
"""


@pytest.fixture
def run_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs_plugins: Any) -> Any:
    """Run PIPELINE on folder_jobs in service mode with ``options``; returns the RunResult."""
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module
    from flowy.stacks.definitions import StackDefinition, save_stack

    project = tmp_path / "project"
    (project / ".flowy").mkdir(parents=True)
    monkeypatch.setenv("FLOWY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOWY_PROJECT", str(project))
    (project / "jobs_pipe.py").write_text(PIPELINE)
    module = load_module(project / "jobs_pipe.py")

    def run(**options: Any) -> Any:
        components = {
            "executor": {"type": "folder_jobs", "mode": "service", "poll_interval": 0.02} | options,
            "metadata_store": {"type": "sqlite", "url": f"sqlite:///{project}/.flowy/m.db"},
            "artifact_store": {"type": "local", "path": str(project / ".flowy" / "artifacts")},
        }
        save_stack(StackDefinition("jobs", components, "jobs"), "project", project)
        return run_pipeline(
            module.pipeline, stack="jobs", plugins=jobs_plugins, project=project, no_cache=True
        )

    return run


def test_a_completed_job_gives_the_result_it_wrote(run_jobs: Any, tmp_path: Path) -> None:
    result = run_jobs()
    assert result.ok, {k: v.error for k, v in result.steps.items()}
    assert result["train"] == 6
    assert "preparing" in result.steps["prepare"].logs
    staged = tmp_path / "project" / ".flowy" / "artifacts" / "flowy-jobs"
    assert len(list(staged.glob("code/*/jobs_pipe.py"))) == 1  # shipped once for both steps
    assert len(list(staged.glob("*/train/*/result.json"))) == 1


def test_a_failed_job_is_retried_and_reports_the_reason_and_the_logs(run_jobs: Any) -> None:
    ProcessService.script["train"] = ["fail"]
    rec = run_jobs().steps["train"]
    assert rec.status == "failed" and rec.attempts == 2
    assert rec.error.startswith("JobFailed: Local Jobs job jobs/flowy-remote-jobs-train-")
    assert "ImagePullBackOff: no such image" in rec.error
    assert "logs: `jobs logs jobs/" in rec.error
    assert rec.error_type == "flowy.remote_jobs.executor.RemoteJobError"


def test_a_failure_then_a_success_completes(run_jobs: Any) -> None:
    ProcessService.script["train"] = ["fail", "run"]
    result = run_jobs()
    assert result.ok and result.steps["train"].attempts == 2 and result["train"] == 6


def test_the_stopping_condition_is_a_retried_timeout(run_jobs: Any) -> None:
    ProcessService.script["train"] = ["timeout"]
    rec = run_jobs().steps["train"]
    assert rec.status == "timed_out" and rec.attempts == 2
    assert "stopping condition (7 s, MaxRuntimeExceeded) and Local Jobs stopped job" in rec.error


def test_a_job_stopped_by_someone_fails_without_retry(run_jobs: Any) -> None:
    ProcessService.script["train"] = ["stop"]
    rec = run_jobs().steps["train"]
    assert rec.status == "failed" and rec.attempts == 1
    assert "JobStopped:" in rec.error and "was stopped (CancelledByUser)" in rec.error


def test_max_wait_stops_a_job_that_never_ends(run_jobs: Any) -> None:
    ProcessService.script["prepare"] = ["hang"]
    rec = run_jobs(max_wait=0.2).steps["prepare"]
    assert rec.status == "timed_out" and "max_wait=0.2 s" in rec.error
    assert "the job was stopped" in rec.error
    assert len(ProcessService.stopped) == 1  # one attempt: the step has no retries


def test_a_job_that_wrote_no_result_is_a_retryable_failure(run_jobs: Any) -> None:
    ProcessService.script["train"] = ["lose", "run"]
    result = run_jobs()
    assert result.ok and result.steps["train"].attempts == 2
    ProcessService.script["train"] = ["lose"]
    rec = run_jobs().steps["train"]
    assert rec.status == "failed" and "finished but wrote no result at" in rec.error
    assert "/result.json; logs: `jobs logs jobs/" in rec.error


def test_a_refused_submit_fails_the_attempt_with_the_services_words(run_jobs: Any) -> None:
    ProcessService.script["prepare"] = ["refuse"]
    result = run_jobs()
    rec = result.steps["prepare"]
    assert rec.status == "failed" and rec.error == "quota exceeded for this test service"
    assert result.steps["train"].status == "skipped"


def test_a_cancelled_run_stops_its_running_jobs(tmp_path: Path) -> None:
    """shutdown(cancel=True) stops every job still polled and ends the attempt, not retried."""
    from flowy_store_sqlite.local_store import LocalArtifactStore

    ProcessService.script["s"] = ["hang"]
    executor = FolderJobs(mode="service", poll_interval=0.02)
    executor.store = LocalArtifactStore(str(tmp_path / "store"))
    executor.staging = str(tmp_path / "store" / "flowy-jobs")
    future = executor._pool.submit(executor.attempt, _task(retries=3))
    while not executor._active_jobs:
        time.sleep(0.01)
    executor.shutdown(cancel=True)
    result = future.result()
    assert result.status == "failed" and result.error.startswith("run cancelled; stopped job")
    assert not result.retryable and len(ProcessService.stopped) >= 1


def test_local_mode_reports_a_crashed_entrypoint(tmp_path: Path) -> None:
    """The job's command dies without a result: WorkerDied with its output, retryable."""
    from flowy_store_sqlite.local_store import LocalArtifactStore

    class Crashing(FolderJobs):
        def command(self, manifest_uri: str) -> tuple[str, ...]:
            return (sys.executable, "-c", "import sys; print('boom'); sys.exit(3)", manifest_uri)

    executor = Crashing(mode="local")
    executor.store = LocalArtifactStore(str(tmp_path / "store"))
    executor.staging = str(tmp_path / "store" / "flowy-jobs")
    result = executor.attempt(_task())
    executor.shutdown()
    assert result.status == "failed" and result.retryable
    assert "WorkerDied: the entrypoint for step 's' exited with code 3: boom" in result.error


def test_the_executor_refuses_a_store_it_cannot_use(jobs_plugins: Any) -> None:
    from flowy.kernel.errors import ConfigError

    executor = FolderJobs()
    runtime = SimpleNamespace(artifact_store=object())
    with pytest.raises(ConfigError, match="needs the local artifact store"):
        executor.bind(runtime)  # type: ignore[arg-type]
    executor.shutdown()


# -- the manifest protocol and the job side ---------------------------------------------


def _task(**changes: Any) -> StepTask:
    fields: dict[str, Any] = {
        "run_id": "run1",
        "pipeline": "pipe",
        "step": "s",
        "step_ref": StepRef("nowhere", "f"),
        "code_hash": "hash",
        "params": {"n": 1},
        "inputs": {},
        "outputs": ["out"],
        "artifact_store": ComponentSpec("artifact_store", "local", {}),
    }
    return StepTask(**{**fields, **changes})


def test_manifest_round_trip_and_layout(tmp_path: Path) -> None:
    from flowy.remote_jobs import (
        attempt_folder,
        read_manifest,
        read_result,
        ship_code,
        staging_root,
        write_manifest,
    )
    from flowy_store_sqlite.local_store import LocalArtifactStore

    store = LocalArtifactStore(str(tmp_path / "store"))
    staging = staging_root(store, "/jobs/")
    assert staging == store.uri_for("jobs")
    module = tmp_path / "pipe.py"
    module.write_text("x = 1\n")
    task = _task(step_ref=StepRef("pipe", "f", str(module)))
    cache: dict[str, str] = {}
    code = ship_code(store, staging, task, cache)
    assert code is not None and code.endswith("/pipe.py") and "/code/" in code
    assert ship_code(store, staging, task, cache) == code and len(cache) == 1
    folder = attempt_folder(staging, task, "job-1")
    assert folder == f"{staging}/run1/s/job-1"
    manifest_uri, result_uri = write_manifest(store, folder, task, code)
    assert (manifest_uri, result_uri) == (f"{folder}/task.json", f"{folder}/result.json")
    assert read_manifest(store, manifest_uri) == (task, code, result_uri)
    assert read_result(store, result_uri) is None


def test_a_manifest_of_another_version_is_refused_with_the_fix(tmp_path: Path) -> None:
    from flowy.remote_jobs import read_manifest
    from flowy_store_sqlite.local_store import LocalArtifactStore

    store = LocalArtifactStore(str(tmp_path / "store"))
    uri = store.uri_for("jobs/task.json")
    with store.open_write(uri) as f:
        f.write(json.dumps({"flowy_manifest": 99}).encode())
    with pytest.raises(ValueError, match="version 99 step manifest.*same flowy-core"):
        read_manifest(store, uri)


def test_the_job_command_reports_a_bad_manifest_and_bad_usage(tmp_path: Path) -> None:
    from flowy.remote_jobs import read_result
    from flowy_store_sqlite.local_store import LocalArtifactStore

    store = LocalArtifactStore(str(tmp_path / "store"))
    uri = store.uri_for("jobs/run/s/a1/task.json")
    with store.open_write(uri) as f:
        f.write(b'{"flowy_manifest": 1, "task": {}}')
    env = {**os.environ, "FLOWY_TEST_STORE_ROOT": store.root}
    done = subprocess.run(
        [sys.executable, "-c", JOB, uri], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1, done.stderr
    result = read_result(store, uri.replace("task.json", "result.json"))
    assert result is not None and result.status == "failed" and not result.retryable
    assert result.error_type == "flowy.remote_jobs.EntrypointError"
    assert "the job could not start step '?'" in (result.error or "")
    usage = subprocess.run(
        [sys.executable, "-c", JOB], env=env, capture_output=True, text=True, check=False
    )
    assert usage.returncode == 2 and "usage: job MANIFEST" in usage.stderr
    relative = subprocess.run(
        [sys.executable, "-c", JOB, "x/task.json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert relative.returncode == 2 and "is not a path in the local store" in relative.stderr


def test_job_names_are_valid_unique_and_bounded() -> None:
    from flowy.remote_jobs import job_name, max_runtime

    task = _task(step="a step/with*odd--chars" * 5)
    names = {job_name("flowy", task, 1, max_length=40) for _ in range(20)}
    assert len(names) == 20
    for name in names:
        assert len(name) <= 40 and name.startswith("flowy-pipe-a-step-with-odd-char")
        assert all(c.isalnum() or c == "-" for c in name) and "--" not in name
    assert max_runtime(_task(timeout=2.2), 100) == 3 and max_runtime(_task(), 100) == 100


def test_job_status_accepts_only_known_states() -> None:
    assert JobStatus(RUNNING).detail == ""
    with pytest.raises(ValueError):
        JobStatus("exploded")


def test_the_public_surface_resolves_and_importing_it_is_cheap() -> None:
    import flowy.remote_jobs as rj

    assert sorted(rj.__all__) == sorted(rj._LAZY)
    for name in rj.__all__:
        assert getattr(rj, name) is not None, name
    probe = (
        "import sys, flowy.remote_jobs; "
        "print(sorted(m for m in sys.modules if m.startswith(('flowy.run', 'pydantic'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

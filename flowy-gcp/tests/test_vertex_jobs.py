"""Vertex AI custom-job requests and state mapping, as pure functions.

No Vertex AI emulator exists, so what the executor sends in remote mode is
checked here against the v1 REST reference's shapes (CustomJob,
WorkerPoolSpec, MachineSpec, Scheduling), and the state mapping against its
JobState values. The REST calls themselves (create, get, cancel) run against a
stand-in service in test_vertex_remote.py, never against Google: see
docs/gcp.md, "What is tested".
"""

from __future__ import annotations

from typing import Any

import pytest
from flowy.kernel.errors import ConfigError
from flowy.kernel.records import ComponentSpec, StepRef, StepTask
from flowy.remote_jobs import COMPLETED, FAILED, RUNNING, STOPPED, TIMED_OUT
from flowy_gcp import vertex_jobs
from flowy_gcp.vertex import VertexOptions, http_error

IMAGE = "us-docker.pkg.dev/flowy-test/jobs/flowy:1"
COMMAND = ("python3", "-m", "flowy_gcp.entrypoint", "gs://b/flowy-jobs/r/s/j/task.json")


def task(**changes: Any) -> StepTask:
    fields: dict[str, Any] = {
        "run_id": "R" * 32,
        "pipeline": "Pipe Line",
        "step": "step_1",
        "step_ref": StepRef("m", "f"),
        "code_hash": "",
        "params": {},
        "inputs": {},
        "outputs": ["out"],
        "artifact_store": ComponentSpec("artifact_store", "gcs", {}),
    }
    return StepTask(**{**fields, **changes})


def options(**changes: Any) -> VertexOptions:
    return VertexOptions(
        **{"project": "flowy-test", "region": "europe-west4", "image": IMAGE, **changes}
    )


def request(t: StepTask, **opts: Any) -> dict[str, Any]:
    return vertex_jobs.custom_job_request(
        name="flowy-pipe-line-step-1-a1-0123abcd",
        task=t,
        command=COMMAND,
        environment={"FLOWY_GCS_PROJECT": "flowy-test", "A": "1"},
        output_uri="gs://b/flowy-jobs/r/s/j/output",
        options=options(**opts),
    )


def test_the_request_runs_the_entrypoint_on_the_manifest() -> None:
    body = request(task(timeout=12.5), service_account="jobs@flowy-test.iam.gserviceaccount.com")
    assert set(body) == {"displayName", "jobSpec", "labels"}
    spec = body["jobSpec"]
    (pool,) = spec["workerPoolSpecs"]
    assert pool["replicaCount"] == "1"  # int64 fields are strings in the REST JSON
    assert pool["machineSpec"] == {"machineType": "n1-standard-4"}
    assert pool["diskSpec"] == {"bootDiskType": "pd-ssd", "bootDiskSizeGb": 100}
    container = pool["containerSpec"]
    assert container["imageUri"] == IMAGE
    assert container["command"] == ["python3", "-m", "flowy_gcp.entrypoint"]
    assert container["args"] == ["gs://b/flowy-jobs/r/s/j/task.json"]
    assert container["env"] == [
        {"name": "A", "value": "1"},
        {"name": "FLOWY_GCS_PROJECT", "value": "flowy-test"},
    ]
    # the step's timeout (rounded up) is the job's scheduling.timeout, a Duration string
    assert spec["scheduling"] == {"timeout": "13s", "restartJobOnWorkerRestart": False}
    assert spec["serviceAccount"] == "jobs@flowy-test.iam.gserviceaccount.com"
    assert spec["baseOutputDirectory"] == {"outputUriPrefix": "gs://b/flowy-jobs/r/s/j/output"}
    assert "network" not in spec
    assert body["labels"] == {
        "flowy-pipeline": "pipe-line",
        "flowy-run": "r" * 32,
        "flowy-step": "step_1",
    }


def test_steps_without_a_timeout_get_max_runtime_and_labels_are_cleaned() -> None:
    body = request(task(), max_runtime=3600, labels={"Team": "ML Ops!"}, network="projects/1/x")
    assert body["jobSpec"]["scheduling"]["timeout"] == "3600s"
    assert body["labels"]["team"] == "ml-ops"
    assert body["jobSpec"]["network"] == "projects/1/x"


@pytest.mark.parametrize(
    ("resources", "machine"),
    [
        ({}, {"machineType": "n1-standard-4"}),
        ({"machine_type": "c2-standard-8"}, {"machineType": "c2-standard-8"}),
        ({"cpu": 3}, {"machineType": "n1-standard-4"}),
        ({"cpus": 2, "memory": "12GB"}, {"machineType": "n1-highmem-2"}),
        ({"memory": "30GiB"}, {"machineType": "n1-highmem-8"}),
        ({"cpu": 16, "memory": 20}, {"machineType": "n1-standard-16"}),
        (
            {"gpu": 1, "accelerator_type": "NVIDIA_TESLA_T4", "cpu": 8},
            {"machineType": "n1-standard-8", "acceleratorType": "NVIDIA_TESLA_T4",
             "acceleratorCount": 1},
        ),
        (
            {"gpus": 3, "accelerator_type": "NVIDIA_TESLA_A100"},
            {"machineType": "a2-highgpu-4g", "acceleratorType": "NVIDIA_TESLA_A100",
             "acceleratorCount": 4},
        ),
        (
            {"gpu": 1, "accelerator_type": "NVIDIA_L4"},
            {"machineType": "g2-standard-8", "acceleratorType": "NVIDIA_L4",
             "acceleratorCount": 1},
        ),
        (
            {"machine_type": "a3-highgpu-8g", "accelerator_type": "NVIDIA_H100_80GB",
             "accelerator_count": 8},
            {"machineType": "a3-highgpu-8g", "acceleratorType": "NVIDIA_H100_80GB",
             "acceleratorCount": 8},
        ),
    ],
)  # fmt: skip
def test_the_machine_follows_the_steps_resources(
    resources: dict[str, Any], machine: dict[str, Any]
) -> None:
    assert vertex_jobs.machine_spec(resources, options()) == machine


def test_the_executors_accelerator_serves_steps_asking_for_gpus() -> None:
    spec = vertex_jobs.machine_spec({"gpu": 2}, options(accelerator_type="NVIDIA_TESLA_V100"))
    assert spec == {
        "machineType": "n1-standard-4",
        "acceleratorType": "NVIDIA_TESLA_V100",
        "acceleratorCount": 2,
    }


@pytest.mark.parametrize(
    ("resources", "words"),
    [
        ({"gpu": 1}, "names no accelerator"),
        ({"gpu": 16, "accelerator_type": "NVIDIA_L4"}, "at most 8 per job"),
        ({"cpu": 200}, "name a `machine_type`"),
        ({"memory": "lots"}, "is not a size"),
    ],
)
def test_impossible_resources_are_clear_errors(resources: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        vertex_jobs.machine_spec(resources, options())


@pytest.mark.parametrize(
    ("job", "state"),
    [
        ({"state": "JOB_STATE_QUEUED"}, RUNNING),
        ({"state": "JOB_STATE_PENDING"}, RUNNING),
        ({"state": "JOB_STATE_RUNNING"}, RUNNING),
        ({"state": "JOB_STATE_CANCELLING"}, RUNNING),
        ({"state": "JOB_STATE_SUCCEEDED"}, COMPLETED),
        ({"state": "JOB_STATE_FAILED", "error": {"code": 3, "message": "OOM"}}, FAILED),
        ({"state": "JOB_STATE_FAILED", "error": {"code": 4, "message": "timeout"}}, TIMED_OUT),
        ({"state": "JOB_STATE_EXPIRED"}, FAILED),
        ({"state": "JOB_STATE_CANCELLED"}, STOPPED),
        ({"state": "JOB_STATE_SOMETHING_NEW"}, RUNNING),
    ],
)
def test_job_states(job: dict[str, Any], state: str) -> None:
    assert vertex_jobs.job_status(job).state == state


def test_failure_details_carry_vertex_s_message() -> None:
    status = vertex_jobs.job_status(
        {"state": "JOB_STATE_FAILED", "error": {"code": 3, "message": "The replica died: OOM"}}
    )
    assert status.detail == "The replica died: OOM"


def test_the_logs_hint_names_the_job() -> None:
    hint = vertex_jobs.logs_hint(
        "projects/123/locations/europe-west4/customJobs/987", "flowy-test", "europe-west4"
    )
    assert "gcloud ai custom-jobs stream-logs 987 --region=europe-west4" in hint
    assert "vertex-ai/locations/europe-west4/training/987/cpu?project=flowy-test" in hint


def test_vertex_mode_needs_project_region_and_image() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="project, region, image required"):
        VertexOptions()
    with pytest.raises(ValidationError, match="region"):
        VertexOptions(project="flowy-test", region="Europe West", image=IMAGE)
    assert VertexOptions(mode="local").project is None


@pytest.mark.parametrize(
    ("status", "message", "words"),
    [
        (401, "Request had invalid authentication", "gcloud auth application-default login"),
        (403, "Vertex AI API has not been used in project", "gcloud services enable"),
        (403, "Permission denied on resource", "roles/aiplatform.user"),
        (404, "Location not found", "Check the executor's `project`"),
        (400, "Invalid machine type", "refused the request (400"),
        (503, "unavailable", "answered 503"),
    ],
)
def test_http_errors_say_what_to_do(status: int, message: str, words: str) -> None:
    error = http_error(status, message, "start the Vertex AI job", options())
    assert words in str(error) and message in str(error)

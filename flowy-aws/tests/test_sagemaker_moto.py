"""The sagemaker executor against moto's SageMaker API.

moto accepts and stores training jobs but runs nothing, so a small fake
runtime plays SageMaker's part: it takes each new job from moto's backend,
runs the job's own container command (ContainerEntrypoint + ContainerArguments
with its Environment) as a local process, and moves the job to Completed, or
to whatever terminal state a test asks for. Requests go through real boto3
clients, which validate them against botocore's service model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowy_aws import jobs

ROLE = "arn:aws:iam::123456789012:role/flowy-jobs"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/flowy:latest"


class FakeSageMaker:
    """Runs moto's training jobs; ``outcome[step]`` overrides how a step's jobs end."""

    def __init__(self) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sagemaker.models import sagemaker_backends

        self.backend = sagemaker_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        self.outcome: dict[str, tuple[str, str, str]] = {}
        self.seen: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(0.02):
            for name, job in list(self.backend.training_jobs.items()):
                if name not in self.seen:
                    self.seen.add(name)
                    threading.Thread(target=self._run, args=(job,), daemon=True).start()

    def _run(self, job: Any) -> None:
        step = next(t["Value"] for t in job.tags if t["Key"] == "flowy:step")
        status, secondary, reason = self.outcome.get(step, ("run", "", ""))
        if status == "hang":
            return
        if status == "run":
            spec = job.algorithm_specification
            command = [
                sys.executable,
                *spec["ContainerEntrypoint"][1:],
                *spec["ContainerArguments"],
            ]
            env = {**os.environ, **getattr(job, "environment", {})}
            done = subprocess.run(command, env=env, capture_output=True, check=False)
            status = "Completed" if done.returncode == 0 else "Failed"
            reason = "" if done.returncode == 0 else f"AlgorithmError: exit {done.returncode}"
            secondary = status
        job.secondary_status = secondary
        if reason:
            job.failure_reason = reason
        job.training_job_status = status


@pytest.fixture
def sagemaker(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSageMaker]:
    from moto.sagemaker import models, responses

    original = models.FakeTrainingJob.__init__

    def starts_in_progress(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.training_job_status, self.secondary_status = "InProgress", "Starting"

    original_create = responses.SageMakerResponse.create_training_job

    def keep_environment(self: Any) -> Any:  # moto drops the job's Environment; SageMaker does not
        result = original_create(self)
        job = self.sagemaker_backend.training_jobs[self._get_param("TrainingJobName")]
        job.environment = self._get_param("Environment") or {}
        return result

    monkeypatch.setattr(models.FakeTrainingJob, "__init__", starts_in_progress)
    monkeypatch.setattr(responses.SageMakerResponse, "create_training_job", keep_environment)
    fake = FakeSageMaker()
    fake.thread.start()
    yield fake
    fake.stop.set()
    fake.thread.join()


@pytest.fixture
def sm_client(moto_endpoint: str) -> Any:
    import boto3

    return boto3.client("sagemaker", endpoint_url=moto_endpoint, region_name="us-east-1")


PIPELINE = """
import os
from flowy import Pipeline, step

@step
def prepare() -> list:
    return [1, 2, 3]

@step(timeout=30, resources={"instance_type": "ml.g5.xlarge"})
def train(prepare: list) -> int:
    print("training on", os.environ.get("FLOWY_AWS_REGION"))
    return sum(prepare)

@step(retries=1, retry_backoff=0.01)
def crash(prepare: list) -> int:
    return 0

@step(retries=2, retry_backoff=0.01, timeout=5)
def slow(prepare: list) -> int:
    return 0

@step(retries=2, retry_backoff=0.01)
def stopped(prepare: list) -> int:
    return 0

pipeline = Pipeline("on-sagemaker", [prepare, train, crash, slow, stopped])
"""


@pytest.fixture
def run_on_sagemaker(
    project: Path, aws_plugins: Any, store_options: dict[str, Any], moto_endpoint: str
) -> Any:
    import tomli_w
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module

    stacks = project / ".flowy" / "stacks"
    stacks.mkdir(exist_ok=True)

    def run(**executor: Any) -> Any:
        options = {
            "role": ROLE,
            "image": IMAGE,
            "endpoint_url": moto_endpoint,
            "region": "us-east-1",
            "poll_interval": 0.05,
            **executor,
        }
        stack = {
            "executor": {"type": "sagemaker", **options},
            "metadata_store": {"type": "sqlite", "url": f"sqlite:///{project}/.flowy/meta.db"},
            "artifact_store": {"type": "s3", **store_options},
        }
        (stacks / "sm.toml").write_text(tomli_w.dumps(stack))
        (project / "sm_pipe.py").write_text(PIPELINE)
        module = load_module(project / "sm_pipe.py")
        return run_pipeline(module.pipeline, stack="sm", plugins=aws_plugins, project=project)

    return run


def test_jobs_run_and_fail_with_local_semantics(
    run_on_sagemaker: Any, sagemaker: FakeSageMaker, sm_client: Any
) -> None:
    sagemaker.outcome["crash"] = ("Failed", "Failed", "AlgorithmError: out of memory")
    sagemaker.outcome["slow"] = ("Stopped", "MaxRuntimeExceeded", "")
    sagemaker.outcome["stopped"] = ("Stopped", "Stopped", "")
    result = run_on_sagemaker(tags={"team": "ml"})
    steps = result.steps
    assert steps["prepare"].status == "completed", steps["prepare"].error
    assert steps["train"].status == "completed", steps["train"].error
    assert result["train"] == 6 and "training on us-east-1" in steps["train"].logs
    # Failed job: failed, retried (retries=1), SageMaker's reason and where the logs are
    assert steps["crash"].status == "failed" and steps["crash"].attempts == 2
    assert "AlgorithmError: out of memory" in steps["crash"].error
    assert "/aws/sagemaker/TrainingJobs" in steps["crash"].error
    # stopping condition hit: timed_out, retried like a local timeout
    assert steps["slow"].status == "timed_out" and steps["slow"].attempts == 3
    assert "stopping condition (5 s, MaxRuntimeExceeded)" in steps["slow"].error
    # stopped by someone: failed, not retried
    assert steps["stopped"].status == "failed" and steps["stopped"].attempts == 1
    assert "was stopped" in steps["stopped"].error

    names = [
        j["TrainingJobName"]
        for j in sm_client.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
    ]
    train_jobs = [n for n in names if "-train-" in n]
    assert len(train_jobs) == 1 and len([n for n in names if "-crash-" in n]) == 2
    described = sm_client.describe_training_job(TrainingJobName=train_jobs[0])
    assert described["TrainingJobStatus"] == "Completed"
    assert described["RoleArn"] == ROLE
    spec = described["AlgorithmSpecification"]
    assert spec["TrainingImage"] == IMAGE
    assert spec["ContainerEntrypoint"] == ["python3", "-m", "flowy_aws.entrypoint"]
    assert spec["ContainerArguments"][0].endswith("/task.json")
    assert described["StoppingCondition"]["MaxRuntimeInSeconds"] == 30
    assert described["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert described["OutputDataConfig"]["S3OutputPath"].startswith("s3://")
    assert {"Key": "team", "Value": "ml"} in sm_client.list_tags(
        ResourceArn=described["TrainingJobArn"]
    )["Tags"]


def test_max_wait_stops_a_job_that_never_ends(
    run_on_sagemaker: Any, sagemaker: FakeSageMaker
) -> None:
    for step in ("prepare", "train", "crash", "slow", "stopped"):
        sagemaker.outcome[step] = ("hang", "", "")
    result = run_on_sagemaker(max_wait=0.3, retries=0)  # moto lacks StopTrainingJob: no retry
    rec = result.steps["prepare"]
    assert rec.status == "timed_out" and "max_wait=0.3 s" in rec.error


def test_request_shape_is_valid_for_the_service_model() -> None:
    import botocore.session
    from botocore.validate import validate_parameters
    from flowy.kernel.records import ComponentSpec, StepRef, StepTask
    from flowy_aws.sagemaker import SageMakerOptions

    task = StepTask(
        "r" * 32,
        "pipe line",
        "step_1",
        StepRef("m", "f"),
        "",
        {},
        {},
        ["out"],
        ComponentSpec("artifact_store", "s3", {}),
        timeout=12.5,
    )
    options = SageMakerOptions(
        role=ROLE,
        image=IMAGE,
        keep_alive_seconds=600,
        subnets=["subnet-1"],
        security_group_ids=["sg-1"],
    )
    request = jobs.training_job_request(
        name=jobs.job_name("flowy", task, 1),
        task=task,
        manifest_uri="s3://b/x/task.json",
        output_uri="s3://b/x/output",
        options=options,
        environment={"A": "1"},
    )
    model = botocore.session.get_session().get_service_model("sagemaker")
    validate_parameters(request, model.operation_model("CreateTrainingJob").input_shape)
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 13}
    name = request["TrainingJobName"]
    assert len(name) <= 63 and name.startswith("flowy-pipe-line-step-1-a1-")


@pytest.mark.parametrize(
    ("description", "state"),
    [
        ({"TrainingJobStatus": "InProgress", "SecondaryStatus": "Downloading"}, jobs.RUNNING),
        ({"TrainingJobStatus": "Completed", "SecondaryStatus": "Completed"}, jobs.COMPLETED),
        ({"TrainingJobStatus": "Failed", "FailureReason": "x"}, jobs.FAILED),
        ({"TrainingJobStatus": "Stopped", "SecondaryStatus": "MaxRuntimeExceeded"}, jobs.TIMED_OUT),
        ({"TrainingJobStatus": "Stopped", "SecondaryStatus": "Stopped"}, jobs.STOPPED),
        ({"TrainingJobStatus": "Stopping", "SecondaryStatus": "Stopping"}, jobs.RUNNING),
    ],
)
def test_job_states(description: dict[str, str], state: str) -> None:
    assert jobs.job_state(description)[0] == state


def test_sagemaker_mode_needs_role_and_image() -> None:
    from flowy_aws.sagemaker import SageMakerOptions
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="role and image required"):
        SageMakerOptions()
    with pytest.raises(ValidationError, match="role"):
        SageMakerOptions(role="not-an-arn", image=IMAGE)
    assert SageMakerOptions(mode="local").role is None

"""SageMaker training-job requests and what their states mean for a step.

Pure functions (no AWS calls) so the request shape can be checked against
botocore's service model and the state mapping tested on its own. Job names,
stopping conditions and the state names are the shared ones of
:mod:`flowy.remote_jobs`.

State mapping, the same semantics as the local executor:

* ``Completed`` -> the job ran the entrypoint; its result manifest holds the
  step's status (a step that raised is ``failed`` inside a completed job).
* ``Stopped`` with secondary status ``MaxRuntimeExceeded`` (the stopping
  condition, set from the step's ``timeout``) -> ``timed_out``, retryable.
* ``Stopped`` otherwise (someone stopped it) -> ``failed``, not retryable.
* ``Failed`` (image pull, out of memory, entrypoint crash) -> ``failed``,
  retryable, with SageMaker's ``FailureReason`` and where the logs are.
"""

from __future__ import annotations

from typing import Any

from flowy.kernel.records import StepTask
from flowy.remote_jobs import (
    COMPLETED,
    FAILED,
    RUNNING,
    STOPPED,
    TIMED_OUT,
    JobStatus,
    job_name,
    max_runtime,
)

__all__ = [
    "COMPLETED",
    "FAILED",
    "LOG_GROUP",
    "RUNNING",
    "STOPPED",
    "TIMED_OUT",
    "job_name",
    "job_state",
    "job_status",
    "logs_hint",
    "max_runtime",
    "training_job_request",
]

LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def training_job_request(
    *,
    name: str,
    task: StepTask,
    manifest_uri: str,
    output_uri: str,
    options: Any,
    environment: dict[str, str],
) -> dict[str, Any]:
    """The ``CreateTrainingJob`` request for one step attempt.

    ``task.resources`` may override ``instance_type``, ``volume_size_gb`` and
    ``instance_count`` per step (``@step(resources={"instance_type": ...})``).
    """
    res = task.resources or {}
    resource_config: dict[str, Any] = {
        "InstanceType": str(res.get("instance_type", options.instance_type)),
        "InstanceCount": int(res.get("instance_count", 1)),
        "VolumeSizeInGB": int(res.get("volume_size_gb", options.volume_size_gb)),
    }
    if options.keep_alive_seconds:
        resource_config["KeepAlivePeriodInSeconds"] = options.keep_alive_seconds
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "RoleArn": options.role,
        "AlgorithmSpecification": {
            "TrainingImage": options.image,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": [options.python, "-m", "flowy_aws.entrypoint"],
            "ContainerArguments": [manifest_uri],
        },
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "ResourceConfig": resource_config,
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime(task, options.max_runtime)},
        "Environment": environment,
        "Tags": [
            {"Key": "flowy:pipeline", "Value": task.pipeline[:256]},
            {"Key": "flowy:run", "Value": task.run_id},
            {"Key": "flowy:step", "Value": task.step[:256]},
            *({"Key": k, "Value": v} for k, v in options.tags.items()),
        ],
    }
    if options.subnets or options.security_group_ids:
        request["VpcConfig"] = {
            "Subnets": list(options.subnets),
            "SecurityGroupIds": list(options.security_group_ids),
        }
    return request


def job_state(description: dict[str, Any]) -> tuple[str, str]:
    """(state, detail) from a ``DescribeTrainingJob`` response."""
    status = description.get("TrainingJobStatus", "")
    secondary = description.get("SecondaryStatus", "")
    reason = description.get("FailureReason", "")
    if status in ("InProgress", "Stopping"):
        return RUNNING, secondary
    if status == "Completed":
        return COMPLETED, secondary
    if status == "Failed":
        return FAILED, reason or secondary or "no FailureReason given"
    if status == "Stopped":
        if secondary in ("MaxRuntimeExceeded", "MaxWaitTimeExceeded"):
            return TIMED_OUT, secondary
        return STOPPED, reason or secondary or "Stopped"
    return RUNNING, f"unknown status {status!r}"


def job_status(description: dict[str, Any]) -> JobStatus:
    """:func:`job_state` as the shared executor's :class:`~flowy.remote_jobs.JobStatus`."""
    return JobStatus(*job_state(description))


def logs_hint(name: str, region: str | None) -> str:
    where = f" --region {region}" if region else ""
    return (
        f"logs: CloudWatch {LOG_GROUP}, streams {name}/* "
        f"(`aws logs tail {LOG_GROUP} --log-stream-name-prefix {name}{where}`)"
    )

"""SageMaker training-job requests and what their states mean for a step.

Pure functions (no AWS calls) so the request shape can be checked against
botocore's service model and the state mapping tested on its own.

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

import math
import re
import secrets
from typing import Any

from flowy.kernel.records import StepTask

RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
TIMED_OUT = "timed_out"
STOPPED = "stopped"

LOG_GROUP = "/aws/sagemaker/TrainingJobs"


def job_name(prefix: str, task: StepTask, attempt: int) -> str:
    """A unique, valid training-job name (``[a-zA-Z0-9-]``, at most 63 characters)."""
    token = secrets.token_hex(4)
    base = f"{prefix}-{task.pipeline}-{task.step}-a{attempt}"
    base = re.sub(r"[^a-zA-Z0-9-]+", "-", base).strip("-")
    base = re.sub(r"-{2,}", "-", base)
    return f"{base[: 63 - len(token) - 1].rstrip('-')}-{token}"


def max_runtime(task: StepTask, default: int) -> int:
    """The stopping condition: the step's timeout (rounded up), else the default."""
    if task.timeout is None:
        return default
    return max(1, math.ceil(task.timeout))


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


def logs_hint(name: str, region: str | None) -> str:
    where = f" --region {region}" if region else ""
    return (
        f"logs: CloudWatch {LOG_GROUP}, streams {name}/* "
        f"(`aws logs tail {LOG_GROUP} --log-stream-name-prefix {name}{where}`)"
    )

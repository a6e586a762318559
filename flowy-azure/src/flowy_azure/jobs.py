"""Azure ML command-job requests and what their states mean for a step.

Pure functions (no Azure calls), so the request shape and the state mapping
are tested on their own. The request is the body of the Azure Resource
Manager call ``PUT .../workspaces/WS/jobs/NAME?api-version=...``
(*Jobs - Create Or Update*, ``jobType = "Command"``), the same call
``az ml job create`` and the ``azure-ai-ml`` SDK make; Flowy sends it
through ``azure-core`` so the heavy SDK is not needed.

State mapping, the same semantics as the local executor (see
:mod:`flowy.remote_jobs`):

* ``Completed`` -> the job ran the entrypoint; its result manifest holds the
  step's status (a step that raised is ``failed`` inside a completed job).
* ``Canceled`` that Flowy did not request, for a step with a timeout, once
  the timeout has passed -> ``timed_out`` (Azure ML enforces
  ``limits.timeout``, set from the step's ``timeout``, by cancelling the job).
* ``Canceled`` otherwise (someone cancelled it) -> stopped, not retried.
* ``Failed`` or ``NotResponding`` (image build, out of memory, entrypoint
  crash, lost node) -> ``failed``, retried, with where the logs are.
* Everything else (``NotStarted``, ``Queued``, ``Preparing``, ``Running``,
  ``Finalizing``, ``CancelRequested``, ``Paused``, ``Unknown``...) -> running.
"""

from __future__ import annotations

import math
import re
import shlex
from typing import Any

from flowy.remote_jobs import (
    COMPLETED,
    FAILED,
    RUNNING,
    STOPPED,
    TIMED_OUT,
    JobSpec,
    JobStatus,
    max_runtime,
)

API_VERSION = "2024-04-01"
MANAGEMENT = "https://management.azure.com"
SCOPE = "https://management.azure.com/.default"

_IDENTITIES = {"managed": "Managed", "user": "UserIdentity", "aml_token": "AMLToken"}
_FAILED = ("Failed", "NotResponding")


def workspace_path(subscription_id: str, resource_group: str, workspace: str) -> str:
    """The workspace's ARM resource id (``/subscriptions/.../workspaces/WS``)."""
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{workspace}"
    )


def job_path(options: Any, name: str) -> str:
    """The job's ARM path (without host and api-version)."""
    ws = workspace_path(options.subscription_id, options.resource_group, options.workspace)
    return f"{ws}/jobs/{name}"


def environment_id(reference: str, workspace: str) -> str:
    """An Azure ML environment reference as the REST API wants it.

    ``azureml:NAME:VERSION`` (as ``az ml`` writes it) becomes the workspace
    environment's ARM id; ``azureml://registries/...`` and full ARM ids pass
    through. ``@latest`` is refused: the REST API needs a version, and a
    pinned one keeps a step's environment from changing under its cache key.
    """
    reference = reference.strip()
    if reference.startswith(("azureml://", "/subscriptions/")):
        return reference
    match = re.fullmatch(r"(?:azureml:)?([A-Za-z0-9_.-]+):([A-Za-z0-9_.-]+)", reference)
    if not match:
        raise ValueError(
            f"environment {reference!r} is not `azureml:NAME:VERSION`, an "
            "`azureml://registries/REGISTRY/environments/NAME/versions/VERSION` URI or an ARM "
            "id (`az ml environment list` shows the names and versions)"
        )
    env_name, version = match.groups()
    return f"{workspace}/environments/{env_name}/versions/{version}"


def compute_id(name: str, workspace: str) -> str | None:
    """The compute target's ARM id; None for serverless compute."""
    if name == "serverless":
        return None
    if name.startswith("/subscriptions/"):
        return name
    return f"{workspace}/computes/{name}"


def iso_duration(seconds: int) -> str:
    """Seconds as the ISO 8601 duration Azure ML's ``limits.timeout`` takes (``PT3600S``)."""
    return f"PT{max(1, math.ceil(seconds))}S"


def command_line(command: tuple[str, ...] | list[str]) -> str:
    """The job's command as one shell line (Azure ML runs ``command`` with a shell)."""
    return " ".join(shlex.quote(part) for part in command)


def command_job_request(spec: JobSpec, options: Any) -> dict[str, Any]:
    """The ``Jobs - Create Or Update`` body for one step attempt.

    ``spec.task.resources`` may override, per step, ``compute`` (another
    cluster, ``"serverless"``), ``instance_type``, ``instance_count`` and
    ``shm_size``; a step asking for ``gpu`` runs on ``gpu_compute`` when the
    stack names one.
    """
    task = spec.task
    res = task.resources or {}
    ws = workspace_path(options.subscription_id, options.resource_group, options.workspace)
    compute = str(res.get("compute") or "")
    if not compute and res.get("gpu") and options.gpu_compute:
        compute = options.gpu_compute
    target = compute_id(compute or options.compute, ws)
    resources: dict[str, Any] = {"instanceCount": int(res.get("instance_count", 1))}
    instance_type = res.get("instance_type", options.instance_type)
    if instance_type:
        resources["instanceType"] = str(instance_type)
    if target is None and "instanceType" not in resources:
        raise ValueError(
            "serverless compute needs an instance type: set the executor's `instance_type` "
            "option or the step's resources={'instance_type': ...} (e.g. Standard_DS3_v2)"
        )
    shm = res.get("shm_size", options.shm_size)
    if shm:
        resources["shmSize"] = str(shm)
    tags = {
        "flowy:pipeline": task.pipeline[:256],
        "flowy:run": task.run_id,
        "flowy:step": task.step[:256],
        **options.tags,
    }
    properties: dict[str, Any] = {
        "jobType": "Command",
        "displayName": spec.name,
        "experimentName": options.experiment_name or _experiment(task.pipeline),
        "description": f"Flowy step {task.step!r} of pipeline {task.pipeline!r}, run {task.run_id}",
        "tags": tags,
        "command": command_line(spec.command),
        "environmentId": environment_id(options.aml_environment, ws),
        "environmentVariables": dict(spec.environment),
        "resources": resources,
        "limits": {
            "jobLimitsType": "Command",
            "timeout": iso_duration(max_runtime(task, options.max_runtime)),
        },
        "identity": {"identityType": _IDENTITIES[options.identity]},
        "isArchived": False,
    }
    if target is not None:
        properties["computeId"] = target
    return {"properties": properties}


def _experiment(pipeline: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", pipeline).strip("-")[:255] or "flowy"


def job_status(
    body: dict[str, Any],
    *,
    cancel_requested: bool = False,
    timeout: float | None = None,
    elapsed: float = 0.0,
) -> JobStatus:
    """The state of a job from a ``Jobs - Get`` response body.

    ``cancel_requested``: Flowy cancelled the job itself (a cancelled run or
    ``max_wait``); ``timeout`` and ``elapsed`` (seconds since submission) tell
    a job Azure ML cancelled at its ``limits.timeout`` from one a person did.
    """
    status = str(body.get("properties", {}).get("status") or "Unknown")
    if status == "Completed":
        return JobStatus(COMPLETED, status)
    if status in _FAILED:
        return JobStatus(FAILED, f"Azure ML status {status}")
    if status == "Canceled":
        if not cancel_requested and timeout is not None and elapsed >= timeout:
            return JobStatus(
                TIMED_OUT, f"Azure ML cancelled the job at its limits.timeout of {timeout:g} s"
            )
        return JobStatus(STOPPED, "Canceled")
    return JobStatus(RUNNING, status)


def studio_url(body: dict[str, Any]) -> str | None:
    """The job's page in Azure ML studio, when the service reported it."""
    services = body.get("properties", {}).get("services") or {}
    studio = services.get("Studio") or {}
    endpoint = studio.get("endpoint")
    return str(endpoint) if endpoint else None


def logs_hint(name: str, options: Any, body: dict[str, Any] | None = None) -> str:
    """Where a job's logs are: its studio page and the ``az ml`` command that fetches them."""
    where = studio_url(body or {})
    command = (
        f"`az ml job stream --name {name} --resource-group {options.resource_group} "
        f"--workspace-name {options.workspace}`"
    )
    return f"logs: {where + ' or ' if where else ''}{command}"


def error_message(body: Any) -> str:
    """The ``error.code: error.message`` of an ARM error response, or ''."""
    if isinstance(body, dict):
        error = body.get("error") or {}
        if isinstance(error, dict) and (error.get("code") or error.get("message")):
            return f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    return ""

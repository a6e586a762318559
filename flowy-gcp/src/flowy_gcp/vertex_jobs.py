"""Vertex AI custom-job requests and what their states mean for a step.

Pure functions (no Google calls), so the request built from a step's
resources and the state mapping are tested on their own; no Vertex AI
emulator exists. The shapes follow the v1 REST reference of
``projects.locations.customJobs`` (``CustomJob``, ``WorkerPoolSpec``,
``MachineSpec``, ``Scheduling``, ``JobState``).

Machine choice, per step (``@step(resources=...)``), first match wins:

* ``machine_type`` (and ``accelerator_type``/``accelerator_count``) as given;
* ``gpu``/``gpus`` with an accelerator that needs its own machine family
  (A100, H100, L4): the family's machine for that many GPUs;
* ``cpu``/``cpus`` and ``memory``: the smallest ``n1-standard-N`` (3.75 GB per
  vCPU) or ``n1-highmem-N`` (6.5 GB per vCPU) that holds both;
* otherwise the executor's ``machine_type``.

State mapping, the same semantics as the local executor:

* ``JOB_STATE_SUCCEEDED`` -> completed; the result manifest holds the step's status.
* ``JOB_STATE_FAILED`` with error code 4 (DEADLINE_EXCEEDED: the
  ``scheduling.timeout`` set from the step's ``timeout``) -> timed_out, retried.
* ``JOB_STATE_FAILED`` otherwise, ``JOB_STATE_EXPIRED`` -> failed, retried, with
  Vertex's error message and where the logs are.
* ``JOB_STATE_CANCELLED`` (someone cancelled it) -> failed, not retried.
* queued, pending, running, cancelling, paused, updating -> running.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flowy.kernel.errors import ConfigError
from flowy.kernel.records import StepTask
from flowy.remote_jobs import COMPLETED, FAILED, RUNNING, STOPPED, TIMED_OUT, JobStatus, max_runtime

#: google.rpc.Code DEADLINE_EXCEEDED: how a job that overran scheduling.timeout fails.
DEADLINE_EXCEEDED = 4

_SIZES = (1, 2, 4, 8, 16, 32, 64, 96)
_GB_PER_CPU = {"n1-standard": 3.75, "n1-highmem": 6.5}
#: Accelerators that come with their own machine family: GPUs -> machine type.
_GPU_MACHINES: dict[str, dict[int, str]] = {
    "NVIDIA_TESLA_A100": {n: f"a2-highgpu-{n}g" for n in (1, 2, 4, 8)} | {16: "a2-megagpu-16g"},
    "NVIDIA_A100_80GB": {n: f"a2-ultragpu-{n}g" for n in (1, 2, 4, 8)},
    "NVIDIA_H100_80GB": {n: f"a3-highgpu-{n}g" for n in (1, 2, 4, 8)},
    "NVIDIA_L4": {1: "g2-standard-8", 2: "g2-standard-24", 4: "g2-standard-48"}
    | {8: "g2-standard-96"},
}
_UNITS = {"": 1000**3, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}  # fmt: skip
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")

_RUNNING_STATES = {
    "JOB_STATE_QUEUED",
    "JOB_STATE_PENDING",
    "JOB_STATE_RUNNING",
    "JOB_STATE_CANCELLING",
    "JOB_STATE_PAUSED",
    "JOB_STATE_UPDATING",
}


def memory_gb(value: Any) -> float:
    """``"16GB"``, ``"8GiB"``, ``16`` (GB) or bytes (>= 1 MiB) -> gigabytes."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / 1000**3 if value >= 1024**2 else float(value)
    match = _SIZE.match(str(value))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ConfigError(
            f"resources memory={value!r} is not a size: write it like 16GB, 8GiB or 4096MB"
        )
    return float(match.group(1)) * _UNITS[unit] / 1000**3


def _amount(res: Mapping[str, Any], *names: str) -> float:
    for name in names:
        if name in res:
            return float(res[name])
    return 0.0


def machine_spec(resources: Mapping[str, Any], options: Any) -> dict[str, Any]:
    """The ``MachineSpec`` for a step's resources (see the module docstring)."""
    accelerator = str(resources.get("accelerator_type") or options.accelerator_type or "")
    gpus = int(
        resources.get("accelerator_count") or _amount(resources, "gpu", "gpus", "num_gpus") or 0
    )
    machine = resources.get("machine_type")
    if gpus and not accelerator:
        raise ConfigError(
            f"the step asks for {gpus} GPU(s) but names no accelerator: set the vertex "
            "executor's `accelerator_type` (e.g. \"NVIDIA_TESLA_T4\") or the step's "
            '`resources={"accelerator_type": ...}`'
        )
    if machine is None and gpus and accelerator in _GPU_MACHINES:
        family = _GPU_MACHINES[accelerator]
        fits = [n for n in sorted(family) if n >= gpus]
        if not fits:
            raise ConfigError(
                f"no machine holds {gpus} x {accelerator}; at most {max(family)} per job"
            )
        gpus = fits[0]
        machine = family[gpus]
    if machine is None:
        machine = _cpu_machine(resources) or options.machine_type
    spec: dict[str, Any] = {"machineType": str(machine)}
    if gpus:
        spec["acceleratorType"] = accelerator
        spec["acceleratorCount"] = gpus
    return spec


def _cpu_machine(resources: Mapping[str, Any]) -> str | None:
    cpus = _amount(resources, "cpu", "cpus", "num_cpus")
    memory = memory_gb(resources["memory"]) if "memory" in resources else 0.0
    if not cpus and not memory:
        return None
    for size in _SIZES:
        for family, per_cpu in _GB_PER_CPU.items():
            if size >= cpus and size * per_cpu >= memory:
                return f"{family}-{size}"
    raise ConfigError(
        f"no n1 machine holds cpus={cpus:g} and memory={memory:g} GB; name a "
        '`machine_type` in the step\'s resources (e.g. "m1-ultramem-160")'
    )


def label(value: str) -> str:
    """A valid label value: lowercase letters, digits, ``-`` and ``_``, at most 63."""
    return re.sub(r"[^a-z0-9_-]+", "-", value.lower()).strip("-")[:63] or "none"


def custom_job_request(
    *,
    name: str,
    task: StepTask,
    command: tuple[str, ...],
    environment: Mapping[str, str],
    output_uri: str,
    options: Any,
) -> dict[str, Any]:
    """The ``CustomJob`` body of ``customJobs.create`` for one step attempt.

    ``command`` is ``(python, "-m", "flowy_gcp.entrypoint", MANIFEST_URI)``: all
    but the manifest go to the container's ``command``, the manifest to ``args``.
    """
    res = task.resources or {}
    pool: dict[str, Any] = {
        "machineSpec": machine_spec(res, options),
        "replicaCount": "1",
        "diskSpec": {
            "bootDiskType": str(res.get("boot_disk_type", options.boot_disk_type)),
            "bootDiskSizeGb": int(res.get("boot_disk_size_gb", options.boot_disk_size_gb)),
        },
        "containerSpec": {
            "imageUri": str(res.get("image", options.image)),
            "command": list(command[:-1]),
            "args": [command[-1]],
            "env": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        },
    }
    timeout = max_runtime(task, options.max_runtime)
    job_spec: dict[str, Any] = {
        "workerPoolSpecs": [pool],
        "scheduling": {"timeout": f"{timeout}s", "restartJobOnWorkerRestart": False},
        "baseOutputDirectory": {"outputUriPrefix": output_uri},
    }
    if options.service_account:
        job_spec["serviceAccount"] = options.service_account
    if options.network:
        job_spec["network"] = options.network
    labels = {
        "flowy-pipeline": label(task.pipeline),
        "flowy-run": label(task.run_id),
        "flowy-step": label(task.step),
        **{label(k): label(v) for k, v in options.labels.items()},
    }
    return {"displayName": name[:128], "jobSpec": job_spec, "labels": labels}


def job_status(job: Mapping[str, Any]) -> JobStatus:
    """(state, detail) from a ``CustomJob`` resource (``customJobs.get``)."""
    state = str(job.get("state", ""))
    error = job.get("error") or {}
    message = str(error.get("message") or "")
    code = error.get("code")
    if state in _RUNNING_STATES:
        return JobStatus(RUNNING, state)
    if state == "JOB_STATE_SUCCEEDED":
        return JobStatus(COMPLETED, state)
    if state == "JOB_STATE_FAILED":
        if code == DEADLINE_EXCEEDED:
            return JobStatus(TIMED_OUT, message or "DEADLINE_EXCEEDED")
        return JobStatus(FAILED, message or f"{state} (no error message given)")
    if state == "JOB_STATE_EXPIRED":
        return JobStatus(FAILED, message or "the job expired before it could start")
    if state == "JOB_STATE_CANCELLED":
        return JobStatus(STOPPED, message or "cancelled")
    return JobStatus(RUNNING, f"unknown state {state!r}")


def job_id(handle: str) -> str:
    """``projects/P/locations/R/customJobs/ID`` -> ``ID``."""
    return handle.rsplit("/", 1)[-1]


def logs_hint(handle: str, project: str | None, region: str | None) -> str:
    ident = job_id(handle)
    where = f" --region={region}" if region else ""
    console = (
        f"https://console.cloud.google.com/vertex-ai/locations/{region}/training/{ident}"
        f"/cpu?project={project}"
        if project and region
        else "the Vertex AI console (Training > Custom jobs)"
    )
    return f"logs: `gcloud ai custom-jobs stream-logs {ident}{where}` or {console}"

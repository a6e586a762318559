"""Remote jobs: what every cloud's job executor shares (SageMaker, Vertex AI, Azure ML...).

One protocol for every cloud: the orchestrator writes a step manifest into
the artifact store, starts a job that runs ``python -m <plugin>.entrypoint
MANIFEST_URI``, polls it, and reads the result manifest the job wrote. A
cloud plugin supplies only a :class:`JobBackend` (``submit``, ``describe``,
``stop``, ``logs`` against its service), its options and its store check,
by subclassing :class:`RemoteJobExecutor`; its entrypoint module calls
:func:`entrypoint_main` with a function that builds the store from the URI.

The names below are the public surface; the submodules are private. They are
imported on first use, so ``import flowy.remote_jobs`` costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy.kernel import lazy_exports

_LAZY = {
    # the job service a plugin implements
    "JobBackend": "flowy.remote_jobs.backend",
    "JobSpec": "flowy.remote_jobs.backend",
    "JobStatus": "flowy.remote_jobs.backend",
    "RUNNING": "flowy.remote_jobs.backend",
    "COMPLETED": "flowy.remote_jobs.backend",
    "FAILED": "flowy.remote_jobs.backend",
    "TIMED_OUT": "flowy.remote_jobs.backend",
    "STOPPED": "flowy.remote_jobs.backend",
    "as_environment": "flowy.remote_jobs.backend",
    # the executor a plugin subclasses
    "RemoteJobExecutor": "flowy.remote_jobs.executor",
    "RemoteJobOptions": "flowy.remote_jobs.executor",
    "RemoteJobError": "flowy.remote_jobs.executor",
    "job_failure": "flowy.remote_jobs.executor:failure",
    "job_name": "flowy.remote_jobs.names",
    "max_runtime": "flowy.remote_jobs.names",
    # the job side
    "entrypoint_main": "flowy.remote_jobs.entrypoint:main",
    "run_manifest": "flowy.remote_jobs.entrypoint:run",
    # the manifest protocol
    "MANIFEST_VERSION": "flowy.remote_jobs.manifest",
    "attempt_folder": "flowy.remote_jobs.manifest",
    "fetch_code": "flowy.remote_jobs.manifest",
    "module_source": "flowy.remote_jobs.manifest",
    "read_manifest": "flowy.remote_jobs.manifest",
    "read_result": "flowy.remote_jobs.manifest",
    "ship_code": "flowy.remote_jobs.manifest",
    "staging_root": "flowy.remote_jobs.manifest",
    "write_manifest": "flowy.remote_jobs.manifest",
    "write_result": "flowy.remote_jobs.manifest",
    # local mode
    "LocalJobs": "flowy.remote_jobs.local",
}

__all__ = [
    "COMPLETED",
    "FAILED",
    "MANIFEST_VERSION",
    "RUNNING",
    "STOPPED",
    "TIMED_OUT",
    "JobBackend",
    "JobSpec",
    "JobStatus",
    "LocalJobs",
    "RemoteJobError",
    "RemoteJobExecutor",
    "RemoteJobOptions",
    "as_environment",
    "attempt_folder",
    "entrypoint_main",
    "fetch_code",
    "job_failure",
    "job_name",
    "max_runtime",
    "module_source",
    "read_manifest",
    "read_result",
    "run_manifest",
    "ship_code",
    "staging_root",
    "write_manifest",
    "write_result",
]

if TYPE_CHECKING:
    from flowy.remote_jobs.backend import (
        COMPLETED,
        FAILED,
        RUNNING,
        STOPPED,
        TIMED_OUT,
        JobBackend,
        JobSpec,
        JobStatus,
        as_environment,
    )
    from flowy.remote_jobs.entrypoint import main as entrypoint_main
    from flowy.remote_jobs.entrypoint import run as run_manifest
    from flowy.remote_jobs.executor import RemoteJobError, RemoteJobExecutor, RemoteJobOptions
    from flowy.remote_jobs.executor import failure as job_failure
    from flowy.remote_jobs.local import LocalJobs
    from flowy.remote_jobs.manifest import (
        MANIFEST_VERSION,
        attempt_folder,
        fetch_code,
        module_source,
        read_manifest,
        read_result,
        ship_code,
        staging_root,
        write_manifest,
        write_result,
    )
    from flowy.remote_jobs.names import job_name, max_runtime

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

"""What a cloud plugin supplies to run step attempts as remote jobs.

A :class:`JobBackend` is four calls against one job service (SageMaker
training jobs, Vertex AI custom jobs, Azure ML command jobs...): ``submit``,
``describe``, ``stop`` and ``logs``. Everything else (staging the manifest,
polling, ``max_wait``, cancellation, reading the result, retries) is the
shared :class:`~flowy.remote_jobs.executor.RemoteJobExecutor`'s, so every
cloud's executor behaves the same way.

States, with the local executor's semantics:

* ``COMPLETED``: the job ran the entrypoint; its result manifest holds the
  step's status (a step that raised is ``failed`` inside a completed job).
* ``TIMED_OUT``: the service enforced the step's timeout (its stopping
  condition); the attempt is ``timed_out`` and retryable.
* ``FAILED``: the job itself failed (image pull, out of memory, entrypoint
  crash); ``failed`` and retryable, with the service's reason and the logs.
* ``STOPPED``: someone stopped it; ``failed``, not retryable.
* ``RUNNING``: queued, starting, running or stopping; poll again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import attrs

from flowy.kernel.records import StepTask

RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
TIMED_OUT = "timed_out"
STOPPED = "stopped"

STATES = (RUNNING, COMPLETED, FAILED, TIMED_OUT, STOPPED)


@attrs.frozen
class JobStatus:
    """What :meth:`JobBackend.describe` found: one of :data:`STATES` and the service's words."""

    state: str = attrs.field(validator=attrs.validators.in_(STATES))
    detail: str = ""


@attrs.frozen
class JobSpec:
    """One step attempt to start as a job; the backend turns it into its service's request."""

    name: str
    """A unique name for the job (see :func:`flowy.remote_jobs.job_name`)."""
    task: StepTask
    """The step task (its ``resources`` and ``timeout`` size and bound the job)."""
    manifest_uri: str
    """The step manifest; the job runs ``python -m <entrypoint module> MANIFEST_URI``."""
    folder: str
    """The attempt's staging folder (manifest and result live there; outputs may go below)."""
    command: tuple[str, ...]
    """The job's command, manifest URI last: what the container runs."""
    environment: Mapping[str, str]
    """Environment variables the job needs (where the store is, the user's own)."""


class JobBackend(Protocol):
    """One job service. Each call may raise the executor's ``backend_errors``.

    Implementations make blocking calls with bounded timeouts; the shared
    executor calls them from its worker threads.
    """

    service: str
    """The service's name in messages (``"SageMaker"``, ``"Vertex AI"``)."""

    def submit(self, spec: JobSpec) -> str:
        """Create the job; return the handle ``describe``/``stop``/``logs`` take (id or name)."""
        ...

    def describe(self, handle: str) -> JobStatus:
        """The job's state now."""
        ...

    def stop(self, handle: str) -> None:
        """Ask the service to stop the job; best effort, an ended job is not an error."""
        ...

    def logs(self, handle: str) -> str:
        """The end of the job's log, or where to read it (a console link, a CLI command).

        Called to explain a failed or timed-out job; must not raise.
        """
        ...


def as_environment(values: Mapping[str, str | None]) -> dict[str, str]:
    """``values`` without empty entries, as the ``environment`` of a :class:`JobSpec`."""
    return {k: v for k, v in values.items() if v}

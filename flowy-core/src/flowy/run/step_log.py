"""What a step logs while it runs: ``flowy.log_metric``, ``log_params``, ``log_artifact``.

The worker (:func:`flowy.run.worker.execute_attempt`) opens a :class:`StepLog`
for each attempt with :func:`begin`; the functions here append to the one
open in the current context, and what was logged travels back to the engine
in the attempt's :class:`~flowy.kernel.records.StepResult` (:meth:`StepLog.result`),
which records it in the step's one metadata transaction. Called outside a
running step, each is a :class:`~flowy.kernel.errors.FlowyError` saying so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Container
from contextvars import ContextVar, Token
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowy.kernel import names
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import ArtifactRef, MetricRecord, StepResult, StepTask

if TYPE_CHECKING:
    from flowy.kernel.contracts import ArtifactStore


@attrs.define
class StepLog:
    """What one attempt of a step logs; it travels back in the StepResult, in one batch.

    Metrics are appended to a list (no I/O per value) and reach the metadata
    store in the engine's one transaction per step, so logging 10,000 values
    costs milliseconds.
    """

    task: StepTask
    artifact_store: ArtifactStore
    """Where ``log_artifact`` copies files (the run's artifact store)."""
    metrics: list[MetricRecord] = attrs.field(factory=list)
    params: dict[str, Any] = attrs.field(factory=dict)
    artifacts: list[ArtifactRef] = attrs.field(factory=list)

    def result(self, status: str, logs: str, started: float, **details: Any) -> StepResult:
        """The attempt's result: ``status``, its captured ``logs`` and all it logged.

        ``details`` are the other :class:`~flowy.kernel.records.StepResult` fields
        (outputs, or the error and whether it is retryable); it finished now.
        """
        return StepResult(
            step=self.task.step,
            status=status,
            logs=logs,
            metrics=self.metrics,
            params_logged=self.params,
            artifacts_logged=self.artifacts,
            started_at=started,
            finished_at=time.time(),
            **details,
        )


_current: ContextVar[StepLog | None] = ContextVar("flowy_step_log", default=None)


def begin(log: StepLog) -> Token[StepLog | None]:
    """Make ``log`` the one the logging functions append to, in this context."""
    return _current.set(log)


def end(token: Token[StepLog | None]) -> None:
    """Close the log :func:`begin` opened (what it holds stays with it)."""
    _current.reset(token)


def _open(what: str) -> StepLog:
    log = _current.get()
    if log is None:
        raise FlowyError(f"flowy.{what} was called outside a running step; call it inside a @step.")
    return log


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record a metric from inside a step; it reaches the metadata store and trackers."""
    _open("log_metric").metrics.append(MetricRecord(name, float(value), step, time.time()))


def log_params(params: dict[str, Any]) -> None:
    """Record extra parameters from inside a step."""
    _open("log_params").params.update(params)


def log_artifact(path: str | os.PathLike[str], name: str | None = None) -> ArtifactRef:
    """Store a file the step wrote (a plot, a report) as an artifact of the step.

    The file is copied into the run's artifact store now, with its checksum, so a
    temporary file may be deleted afterwards; the engine records it with the
    step's outputs. ``name`` (see :data:`flowy.kernel.names.LOGGED_ARTIFACT`) is also
    the stored file's name; it defaults to the file's own name, made valid and
    made unique within the step (``plot.png``, ``plot-2.png``). A ``name``
    passed that is invalid, or already names an output or a logged file of the
    step, is refused. Returns the stored artifact's reference.
    """
    from flowy.artifacts.file_materializer import write_file_artifact
    from flowy.artifacts.keys import logged_key

    log = _open("log_artifact")
    task = log.task
    where = f"flowy.log_artifact in step {task.step!r}: "
    source = Path(path)
    if not source.is_file():
        raise FlowyError(f"{where}{source} is not a file; pass the path of a file.")
    taken = {o: "an output" for o in task.outputs}
    taken.update((a.name, "a file logged before") for a in log.artifacts)
    if name is not None:
        names.check(names.LOGGED_ARTIFACT, name, where=where)
        if name in taken:
            raise FlowyError(
                f"{where}the name {name!r} already names {taken[name]} of the step. Pass "
                "another name=, or leave name out to have the file's name made unique."
            )
    else:
        name = _unique(names.sanitize(source.name), taken)
    key = logged_key(task.artifact_prefix, task.run_id, task.step, name)
    ref = write_file_artifact(log.artifact_store, key, name, source, origin=task)
    log.artifacts.append(ref)
    return ref


def _unique(wanted: str, taken: Container[str]) -> str:
    """``wanted``, or ``<stem>-<n>.<suffix>`` for the first n from 2 not ``taken``."""
    stem, dot, suffix = wanted.rpartition(".")
    if not stem:
        stem, dot, suffix = wanted, "", ""
    unique, n = wanted, 1
    while unique in taken:
        n += 1
        room = names.LOGGED_ARTIFACT.max_length - len(f"-{n}{dot}{suffix}")
        unique = f"{stem[: max(1, room)]}-{n}{dot}{suffix}"
    return unique

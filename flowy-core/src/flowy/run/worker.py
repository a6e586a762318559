"""The worker side of the step-task protocol: a task in, a result out.

Every executor runs steps through these functions, wherever it runs them:
:func:`execute_attempt` runs one attempt (load inputs through materializers,
call the function with its inputs and parameters, write outputs to the
artifact store, capture logs and metrics) and :func:`run_with_retries` wraps
any attempt function (in-process, forked, remote) with the task's retries and
exponential backoff. Workers never touch the metadata store.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import io
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Container
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flowy.artifacts.keys import output_key
from flowy.artifacts.store_io import read_artifact, write_artifact
from flowy.kernel import names, user_modules
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import (
    CANCELLED,
    COMPLETED,
    FAILED,
    TIMED_OUT,
    ArtifactRef,
    MetricRecord,
    StepRef,
    StepResult,
    StepTask,
)

if TYPE_CHECKING:
    from flowy.artifacts.resolution import MaterializerRegistry
    from flowy.kernel.contracts import ArtifactStore


class StepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a step running in this process; ``result`` is what it had done.

    A KeyboardInterrupt still (the run is cancelled), carrying a ``cancelled``
    result with the output the step printed and when it started and stopped,
    so the engine records those instead of an empty step.
    """

    def __init__(self, result: StepResult) -> None:
        super().__init__(f"step {result.step!r} interrupted")
        self.result = result


@attrs.define
class WorkerRuntime:
    """What a worker needs besides the task: a store and the materializers."""

    artifact_store: ArtifactStore
    materializers: MaterializerRegistry


@attrs.define
class _Recorder:
    """What a step logs while it runs; it travels back in the StepResult, in one batch.

    Metrics are appended to a list (no I/O per value) and reach the metadata
    store in the engine's one transaction per step, so logging 10,000 values
    costs milliseconds.
    """

    metrics: list[MetricRecord] = attrs.field(factory=list)
    params: dict[str, Any] = attrs.field(factory=dict)
    artifacts: list[ArtifactRef] = attrs.field(factory=list)
    task: StepTask | None = None
    runtime: WorkerRuntime | None = None


_current: ContextVar[_Recorder | None] = ContextVar("flowy_step_recorder", default=None)


def _recorder(what: str) -> _Recorder:
    rec = _current.get()
    if rec is None:
        raise FlowyError(f"flowy.{what} was called outside a running step; call it inside a @step.")
    return rec


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record a metric from inside a step; it reaches the metadata store and trackers."""
    _recorder("log_metric").metrics.append(MetricRecord(name, float(value), step, time.time()))


def log_params(params: dict[str, Any]) -> None:
    """Record extra parameters from inside a step."""
    _recorder("log_params").params.update(params)


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

    rec = _recorder("log_artifact")
    assert rec.task is not None and rec.runtime is not None
    task = rec.task
    where = f"flowy.log_artifact in step {task.step!r}: "
    source = Path(path)
    if not source.is_file():
        raise FlowyError(f"{where}{source} is not a file; pass the path of a file.")
    taken = {o: "an output" for o in task.outputs}
    taken.update((a.name, "a file logged before") for a in rec.artifacts)
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
    ref = write_file_artifact(rec.runtime.artifact_store, key, name, source, origin=task)
    rec.artifacts.append(ref)
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


@functools.cache
def runtime_for(store_name: str, store_options_json: str) -> WorkerRuntime:
    """Build (once per process) the runtime a remote worker needs from a task."""
    import json

    from flowy.artifacts.resolution import MaterializerRegistry
    from flowy.kernel.plugins import create_plugin_manager
    from flowy.stacks.definitions import expand_env

    plugins = create_plugin_manager()
    store_cls = plugins.registry.get("artifact_store", store_name).load()
    # Secrets arrive as {env:NAME} references (flowy.stacks.definitions.portable_options).
    options = expand_env(json.loads(store_options_json), f"The {store_name!r} artifact store")
    store = store_cls(**options)
    return WorkerRuntime(store, MaterializerRegistry(plugins.registry))


def runtime_from_task(task: StepTask) -> WorkerRuntime:
    import json

    spec = task.artifact_store
    return runtime_for(spec.name, json.dumps(spec.options, sort_keys=True))


def resolve_step_function(ref: StepRef) -> Callable[..., Any]:
    """Import the step a task names (by module, or by file path for scripts)."""
    module = sys.modules.get(ref.module)
    if module is None and ref.path:
        spec = importlib.util.spec_from_file_location(ref.module, ref.path)
        if spec is None or spec.loader is None:
            raise FlowyError(f"cannot load step module from {ref.path}")
        module = importlib.util.module_from_spec(spec)
        module.__flowy_path__ = ref.path  # type: ignore[attr-defined]
        sys.modules[ref.module] = module
        spec.loader.exec_module(module)
    elif module is None:
        module = importlib.import_module(ref.module)
    obj: Any = module
    for part in ref.qualname.split("."):
        obj = getattr(obj, part)
    func: Callable[..., Any] = getattr(obj, "fn", obj)  # a Step, or the bare function
    return func


def _qualified(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


class _CaptureHandler(logging.Handler):
    def __init__(self, stream: io.StringIO) -> None:
        super().__init__(logging.DEBUG)
        self.stream = stream
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(user_modules.PREFIX):  # getLogger(__name__) in a pipeline file
            shown = user_modules.shown_name(record.name)
            record = logging.makeLogRecord({**record.__dict__, "name": shown})
        self.stream.write(self.format(record) + "\n")


def execute_attempt(
    task: StepTask,
    fn: Callable[..., Any] | None,
    runtime: WorkerRuntime,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
) -> StepResult:
    """Run one attempt of ``task``; never raises for a failure of the step itself."""
    started = time.time()
    logs = io.StringIO()
    recorder = _Recorder(task=task, runtime=runtime)
    token = _current.set(recorder)
    handler = _CaptureHandler(logs)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(logs), contextlib.redirect_stderr(logs):
            func = fn if fn is not None else resolve_step_function(task.step_ref)
            kwargs = dict(task.params)
            for name, ref in task.inputs.items():
                kwargs[name] = read_artifact(
                    runtime.artifact_store,
                    ref,
                    runtime.materializers,
                    allow_pickle=task.allow_pickle,
                )
            value = func(**kwargs)
            values = _split(task, value)
            outputs = {
                name: write_artifact(
                    runtime.artifact_store,
                    output_key(task.artifact_prefix, task.run_id, task.step, name),
                    name,
                    obj,
                    runtime.materializers,
                    allow_pickle=task.allow_pickle,
                    origin=task,
                )
                for name, obj in values.items()
            }
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise StepInterrupted(
                StepResult(
                    step=task.step,
                    status=CANCELLED,
                    logs=logs.getvalue(),
                    metrics=recorder.metrics,
                    params_logged=recorder.params,
                    artifacts_logged=recorder.artifacts,
                    started_at=started,
                    finished_at=time.time(),
                    error="run cancelled",
                    error_type="builtins.KeyboardInterrupt",
                    retryable=False,
                )
            ) from exc
        if isinstance(exc, SystemExit):
            raise
        return StepResult(
            step=task.step,
            status=FAILED,
            logs=logs.getvalue(),
            metrics=recorder.metrics,
            params_logged=recorder.params,
            artifacts_logged=recorder.artifacts,
            started_at=started,
            finished_at=time.time(),
            error=f"{type(exc).__name__}: {exc}",
            error_type=_qualified(exc),
            traceback="".join(traceback.format_exception(exc)),
            retryable=isinstance(exc, retry_on) and not isinstance(exc, FlowyError),
        )
    finally:
        root.removeHandler(handler)
        _current.reset(token)
    return StepResult(
        step=task.step,
        status=COMPLETED,
        outputs=outputs,
        logs=logs.getvalue(),
        metrics=recorder.metrics,
        params_logged=recorder.params,
        artifacts_logged=recorder.artifacts,
        started_at=started,
        finished_at=time.time(),
    )


def _split(task: StepTask, value: Any) -> dict[str, Any]:
    if len(task.outputs) == 1:
        return {task.outputs[0]: value}
    from flowy.run.steps import Step

    probe = Step(lambda: None, name=task.step, outputs=task.outputs)
    return probe.split_outputs(value)


def run_with_retries(
    task: StepTask,
    attempt: Callable[[StepTask], StepResult],
    sleep: Callable[[float], None] = time.sleep,
) -> StepResult:
    """Call ``attempt`` until it completes or retries run out.

    Between attempts waits ``retry_backoff * 2**n`` seconds. A failure that is
    not retryable (its exception is not in ``retry_on``) stops at once. A
    timed-out attempt is retryable. Logs of all attempts are kept, in order.
    """
    first_start = 0.0
    all_logs: list[str] = []
    result: StepResult | None = None

    def whole(last: StepResult, n: int) -> StepResult:
        nonlocal first_start
        first_start = first_start or last.started_at
        if last.logs:
            all_logs.append(last.logs if n == 0 else f"--- attempt {n + 1} ---\n{last.logs}")
        return attrs.evolve(last, attempts=n + 1, started_at=first_start, logs="".join(all_logs))

    for n in range(task.retries + 1):
        try:
            result = attempt(task)
        except StepInterrupted as stopped:  # keep earlier attempts' output and start too
            raise StepInterrupted(whole(stopped.result, n)) from stopped
        result = whole(result, n)
        if result.status == COMPLETED or n == task.retries or not result.retryable:
            break
        try:
            sleep(task.retry_backoff * (2**n))
        except KeyboardInterrupt:  # between attempts: what they did is still the step's
            raise StepInterrupted(
                attrs.evolve(
                    result,
                    status=CANCELLED,
                    error="run cancelled",
                    retryable=False,
                    finished_at=time.time(),
                )
            ) from None
    assert result is not None
    return result


def timed_out_result(task: StepTask, started: float, detail: str | None = None) -> StepResult:
    """The result of an attempt an executor stopped for overrunning (retryable)."""
    detail = detail or f"overran its timeout of {task.timeout:g} s and was stopped"
    return StepResult(
        step=task.step,
        status=TIMED_OUT,
        started_at=started,
        finished_at=time.time(),
        error=f"TimeoutError: step {task.step!r} {detail}",
        error_type="builtins.TimeoutError",
        retryable=True,
    )


def worker_died_result(task: StepTask, started: float, how: str) -> StepResult:
    """The result of an attempt whose process ended without reporting (``how`` it ended)."""
    return StepResult(
        step=task.step,
        status=FAILED,
        started_at=started,
        finished_at=time.time(),
        error=f"WorkerDied: the process running step {task.step!r} {how}",
        error_type="flowy.WorkerDied",
    )


def retry_types(task: StepTask) -> tuple[type[BaseException], ...]:
    """The exception classes a task's ``retry_on`` names (imported by qualified name)."""
    from flowy.kernel.registry import import_target

    types: list[type[BaseException]] = []
    for name in task.retry_on:
        module, _, qual = name.rpartition(".")
        types.append(import_target(f"{module}:{qual}"))
    return tuple(types) or (Exception,)

"""The worker side of the step-task protocol: a task in, a result out.

Every executor runs steps through these functions, wherever it runs them:
:func:`execute_attempt` runs one attempt (load inputs through materializers,
call the function with its inputs and parameters, write outputs to the
artifact store, capture logs and metrics) and :func:`run_with_retries` wraps
any attempt function (in-process, forked, remote) with the task's retries and
exponential backoff. Workers never touch the metadata store. What a step logs
while it runs (``flowy.log_metric`` and friends) is :mod:`flowy.run.step_log`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import io
import logging
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from flowy.artifacts.collection import Collection, load_elements, write_elements
from flowy.artifacts.keys import output_key
from flowy.artifacts.store_io import read_artifact, write_artifact
from flowy.kernel import user_modules
from flowy.kernel.errors import FlowyError
from flowy.kernel.records import (
    CANCELLED,
    COMPLETED,
    FAILED,
    TIMED_OUT,
    ArtifactRef,
    StepRef,
    StepResult,
    StepTask,
)
from flowy.run import native_output, resource_usage, step_log, streaming
from flowy.run.live_output import LiveOutput
from flowy.run.step_log import StepLog

if TYPE_CHECKING:
    from flowy.artifacts.resolution import MaterializerRegistry
    from flowy.kernel import contracts
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
    """What a worker needs besides the task: a store and the materializers.

    The run layer's implementation of :class:`flowy.kernel.contracts.WorkerRuntime`, the
    protocol executors receive in :meth:`~flowy.kernel.contracts.Executor.bind` and hand
    back to :func:`execute_attempt`, which needs no more of it than that protocol.
    """

    artifact_store: ArtifactStore
    materializers: MaterializerRegistry
    on_retry: Callable[[StepTask, StepResult, float], None] | None = None
    """Where :meth:`report_retry` goes: the run's ``flowy_step_retrying`` hook, or nowhere
    (a runtime built on a remote worker by :func:`runtime_for`)."""

    def report_retry(self, task: StepTask, result: StepResult, delay: float) -> None:
        """Report a failed attempt that will be retried (see the kernel's protocol)."""
        if self.on_retry is not None:
            self.on_retry(task, result, delay)

    on_output: Callable[[StepTask, str], None] | None = None
    """Where :meth:`report_output` goes: the run's metadata store (the live tail of a
    running step), or nowhere (a runtime built on a remote worker)."""

    def report_output(self, task: StepTask, text: str) -> None:
        """Hand the run output of a running step (see the kernel's protocol)."""
        if self.on_output is not None:
            self.on_output(task, text)


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
    runtime: contracts.WorkerRuntime,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    *,
    on_output: Callable[[str], None] | None = None,
) -> StepResult:
    """Run one attempt of ``task``; never raises for a failure of the step itself.

    ``on_output``, when given, receives the step's output while it runs, in
    batches about twice a second (see :mod:`flowy.run.live_output`): pass
    ``functools.partial(runtime.report_output, task)`` or a function that
    forwards the text to where the run is. None (the default) costs nothing.
    The result carries what the attempt cost (:mod:`flowy.run.resource_usage`).
    """
    meter = resource_usage.Meter(dedicated=fn is None)  # None: a worker resolves the step
    try:
        result = _attempt(task, fn, runtime, retry_on, on_output)
    except StepInterrupted as stopped:
        stopped.result = resource_usage.with_usage(stopped.result, meter)
        raise
    finally:
        meter.stop()
    return resource_usage.with_usage(result, meter)


def _attempt(
    task: StepTask,
    fn: Callable[..., Any] | None,
    runtime: contracts.WorkerRuntime,
    retry_on: tuple[type[BaseException], ...],
    on_output: Callable[[str], None] | None,
) -> StepResult:
    started = time.time()
    logs = native_output.AttemptLog()  # a StringIO that also takes what fds 1 and 2 get
    live = None
    retry_may_follow = False  # then the live view gets the attempt's last words too
    if on_output is not None:
        live = LiveOutput(on_output)
        logs.tap = live.write
    logged = StepLog(task, runtime.artifact_store)
    token = step_log.begin(logged)
    handler = _CaptureHandler(logs)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with (
            native_output.Capture(logs),
            contextlib.redirect_stdout(logs),
            contextlib.redirect_stderr(logs),
            contextlib.ExitStack() as streams,  # iterator inputs close with the attempt
        ):
            func = fn if fn is not None else resolve_step_function(task.step_ref)
            kwargs = dict(task.params)
            for name, ref in task.inputs.items():
                chunks = streaming.iterator_input(func, task, name, runtime, streams)
                kwargs[name] = chunks if chunks is not None else _read_input(task, ref, runtime)
            value = func(**kwargs)
            values = _split(task, value)
            outputs = {}
            for name, obj in values.items():
                if name in task.split:  # a downstream step maps over it: element by element
                    outputs.update(
                        write_elements(
                            runtime.artifact_store, task, name, obj, runtime.materializers
                        )
                    )
                    continue
                outputs[name] = write_artifact(
                    runtime.artifact_store,
                    output_key(task.artifact_prefix, task.run_id, task.step, name),
                    name,
                    obj,
                    runtime.materializers,
                    allow_pickle=task.allow_pickle,
                    origin=task,
                )
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            stopped = logged.result(
                CANCELLED,
                logs.getvalue(),
                started,
                error="run cancelled",
                error_type="builtins.KeyboardInterrupt",
                retryable=False,
            )
            raise StepInterrupted(stopped) from exc
        if isinstance(exc, SystemExit):
            raise
        retry_may_follow = isinstance(exc, retry_on) and not isinstance(exc, FlowyError)
        return logged.result(
            FAILED,
            logs.getvalue(),
            started,
            error=f"{type(exc).__name__}: {exc}",
            error_type=_qualified(exc),
            traceback="".join(traceback.format_exception(exc)),
            retryable=retry_may_follow,
        )
    finally:
        root.removeHandler(handler)
        step_log.end(token)
        if live is not None:  # no live output of this attempt after its result
            logs.tap = None
            live.close(flush=retry_may_follow)
    return logged.result(COMPLETED, logs.getvalue(), started, outputs=outputs)


def _read_input(task: StepTask, ref: ArtifactRef, runtime: contracts.WorkerRuntime) -> Any:
    """An input as the step takes it: a collection (a list stored element by element,
    :mod:`flowy.artifacts.collection`) is read as the list of its elements."""
    store, materializers = runtime.artifact_store, runtime.materializers
    value = read_artifact(store, ref, materializers, allow_pickle=task.allow_pickle)
    if isinstance(value, Collection):
        return load_elements(value, store, materializers, allow_pickle=task.allow_pickle)
    return value


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
    on_retry: Callable[[StepTask, StepResult, float], None] | None = None,
) -> StepResult:
    """Call ``attempt`` until it completes or retries run out.

    Between attempts waits ``retry_backoff * 2**n`` seconds. A failure that is
    not retryable (its exception is not in ``retry_on``) stops at once. A
    timed-out attempt is retryable. Logs of all attempts are kept, in order.
    Before each wait ``on_retry(task, failed_result, delay)`` is called (pass the
    runtime's :meth:`~flowy.kernel.contracts.WorkerRuntime.report_retry`), so the run
    can show the retry while it happens; an exception it raises is a warning, never
    the step's failure.
    """
    first_start = 0.0
    all_logs: list[str] = []
    result: StepResult | None = None
    used = None  # every attempt's resources, added up

    def whole(last: StepResult, n: int) -> StepResult:
        nonlocal first_start, used
        first_start = first_start or last.started_at
        used = resource_usage.combine(used, last.resources)
        if last.logs:
            all_logs.append(last.logs if n == 0 else f"--- attempt {n + 1} ---\n{last.logs}")
        return attrs.evolve(
            last, attempts=n + 1, started_at=first_start, logs="".join(all_logs), resources=used
        )

    for n in range(task.retries + 1):
        try:
            result = attempt(task)
        except StepInterrupted as stopped:  # keep earlier attempts' output and start too
            raise StepInterrupted(whole(stopped.result, n)) from stopped
        result = whole(result, n)
        if result.status == COMPLETED or n == task.retries or not result.retryable:
            break
        delay = task.retry_backoff * (2**n)
        if on_retry is not None:
            _report_retry(on_retry, task, result, delay)
        try:
            sleep(delay)
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


def _report_retry(
    on_retry: Callable[[StepTask, StepResult, float], None],
    task: StepTask,
    result: StepResult,
    delay: float,
) -> None:
    """Report a retry; reporting is a view of the run, so its failure only warns."""
    try:
        on_retry(task, result, delay)
    except Exception as exc:  # noqa: BLE001
        warnings.warn(
            f"reporting the retry of step {task.step!r} failed: {type(exc).__name__}: {exc}",
            RuntimeWarning,
            stacklevel=3,
        )


def timed_out_result(task: StepTask, started: float, detail: str | None = None) -> StepResult:
    """The result of an attempt an executor stopped for overrunning (retryable)."""
    detail = detail or f"overran its timeout of {task.timeout:g} s and was stopped"
    error = f"TimeoutError: step {task.step!r} {detail}"
    return _unreported(task, started, TIMED_OUT, error, "builtins.TimeoutError")


def worker_died_result(task: StepTask, started: float, how: str) -> StepResult:
    """The result of an attempt whose process ended without reporting (``how`` it ended)."""
    error = f"WorkerDied: the process running step {task.step!r} {how}"
    return _unreported(task, started, FAILED, error, "flowy.WorkerDied")


def _unreported(
    task: StepTask, started: float, status: str, error: str, error_type: str
) -> StepResult:
    """The result an executor makes for an attempt that ended (now) without reporting one.

    Retryable, as every such end is: the attempt's own code never said otherwise.
    """
    return StepResult(
        step=task.step,
        status=status,
        started_at=started,
        finished_at=time.time(),
        error=error,
        error_type=error_type,
        retryable=True,
    )


def retry_types(task: StepTask) -> tuple[type[BaseException], ...]:
    """The exception classes a task's ``retry_on`` names (imported by qualified name)."""
    from flowy.kernel.registry import import_target

    types: list[type[BaseException]] = []
    for name in task.retry_on:
        module, _, qual = name.rpartition(".")
        types.append(import_target(f"{module}:{qual}"))
    return tuple(types) or (Exception,)

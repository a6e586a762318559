"""What runs on a Dask worker: one step task in, one small step result out.

The worker builds its artifact store and materializers from the task (once per
worker process, see :func:`flowy.run.worker.runtime_from_task`), imports the step
by reference, and runs the attempts with the task's retries and backoff, publishing
each retry as a Dask event the orchestrator listens to. An
attempt with a timeout runs in a forked child in its own process group, so an
overrun is *stopped* (the group is SIGKILLed and the child reaped) instead of
leaving a thread spinning inside the Dask worker, which Dask cannot interrupt.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

import attrs
from flowy.kernel.records import StepRef, StepResult, StepTask, to_dict
from flowy.run import (
    execute_attempt,
    retry_types,
    run_attempt_forked,
    run_with_retries,
    runtime_from_task,
)

#: The name under which a pipeline script's ``__main__`` is loaded on a worker.
MAIN_ALIAS = "__flowy_main__"


def run_task(task: StepTask, report_topic: str | None = None, key: str = "") -> StepResult:
    """Run ``task`` with retries on this worker; never raises for a step failure.

    Each retry is published as a Dask event on ``report_topic`` (with the task's ``key``),
    which the orchestrating executor subscribed to, so the run hears of it as it happens;
    so is what the step prints while it runs (``{"key", "output"}``, batched about twice a
    second: see :mod:`flowy.run.live_output`), from a timed attempt's forked child too.
    """
    runtime = runtime_from_task(task)
    task = _worker_ref(task)
    try:
        retry_on = retry_types(task)
    except Exception:  # noqa: BLE001 - an unimportable retry_on type: retry on anything
        retry_on = (Exception,)

    on_output = None
    if report_topic:
        from distributed import get_worker

        # Bound here: get_worker() only works on the task's own thread, and the output
        # is published from the attempt's forwarding thread (log_event is thread-safe).
        on_output = functools.partial(_publish_output, get_worker(), report_topic, key)

    def attempt(t: StepTask) -> StepResult:
        if t.timeout is None:
            return execute_attempt(t, None, runtime, retry_on, on_output=on_output)
        return run_attempt_forked(t, None, runtime, retry_on, on_output=on_output)

    report = functools.partial(_publish_retry, report_topic, key) if report_topic else None
    return run_with_retries(task, attempt, on_retry=report)


def _publish_retry(topic: str, key: str, task: StepTask, result: StepResult, delay: float) -> None:
    """Send a retry to the orchestrator through the scheduler's event log (msgpack-able)."""
    from distributed import get_worker

    message = {"key": key, "delay": delay, "result": to_dict(result)}
    try:
        get_worker().log_event(topic, message)
    except TypeError:  # a value msgpack cannot carry (in logged params): send the essentials
        essentials = attrs.evolve(result, outputs={}, metrics=[], params_logged={})
        get_worker().log_event(topic, {**message, "result": to_dict(essentials)})


def _publish_output(worker: Any, topic: str, key: str, text: str) -> None:
    """Send output of the running step to the orchestrator (the retries' event topic)."""
    worker.log_event(topic, {"key": key, "output": text})


def _worker_ref(task: StepTask) -> StepTask:
    """Point a step defined in the orchestrator's ``__main__`` script at that file.

    On a worker ``__main__`` is Dask's own, so the script is loaded by path
    under another name (its ``if __name__ == "__main__":`` block does not run).
    """
    ref = task.step_ref
    if ref.module != "__main__" or not ref.path:
        return task
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and os.path.realpath(main_file) == os.path.realpath(ref.path):
        return task
    return attrs.evolve(task, step_ref=StepRef(MAIN_ALIAS, ref.qualname, ref.path))

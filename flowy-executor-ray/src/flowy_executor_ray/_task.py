"""What runs in a Ray worker: one step task in, a stream of events and one result out.

The remote function is a generator, which Ray runs as a *streaming* task: every
value it yields reaches the orchestrating process as soon as it is yielded, in
order, and the last one is the step result. That stream carries what the run
must hear while the step still runs (each retry, what the step prints), so no
side channel (actor, queue, socket) is needed and nothing can arrive after the
result.

The attempts run in a thread of the worker while the task's own thread yields
what they report. The worker builds its artifact store and materializers from
the task (once per worker process, see :func:`flowy.run.worker.runtime_from_task`)
and runs the attempts with the task's retries and backoff; an attempt with a
timeout runs in a forked child in its own process group
(:func:`flowy.run.run_attempt_forked`), so an overrun is *stopped*: the group
(the step and everything it started) is SIGKILLed and the child reaped.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import attrs
from flowy.kernel.records import StepRef, StepResult, StepTask
from flowy.run import (
    execute_attempt,
    retry_types,
    run_attempt_forked,
    run_with_retries,
    runtime_from_task,
)

#: The name under which a pipeline script's ``__main__`` is loaded on a worker.
MAIN_ALIAS = "__flowy_main__"

#: Event kinds the stream carries: ``("output", text)``, ``("retry", result, delay)``, and
#: last ``("result", result)``.
OUTPUT, RETRY, RESULT = "output", "retry", "result"

_DONE = object()


def run_task(task: StepTask) -> Iterator[tuple[Any, ...]]:
    """Run ``task`` with retries here; yield its reports, then ``("result", StepResult)``.

    Never raises for a step's failure (that is a failed result). An error of
    Flowy itself on the worker (a store it cannot build) ends the stream with
    that exception, which the orchestrator turns into a failed step.
    """
    events: queue.SimpleQueue[Any] = queue.SimpleQueue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = _run(task, events.put)
        except BaseException as exc:  # noqa: BLE001 - handed to the task's thread
            outcome["error"] = exc
        finally:
            events.put(_DONE)

    worker = threading.Thread(target=work, name=f"flowy-step-{task.step}", daemon=True)
    worker.start()
    while (event := events.get()) is not _DONE:
        yield event
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    yield (RESULT, outcome["result"])


def _run(task: StepTask, send: Callable[[tuple[Any, ...]], None]) -> StepResult:
    runtime = runtime_from_task(task)
    task = worker_ref(task)
    try:
        retry_on = retry_types(task)
    except Exception:  # noqa: BLE001 - an unimportable retry_on type: retry on anything
        retry_on = (Exception,)

    def on_output(text: str) -> None:
        send((OUTPUT, text))

    def on_retry(_task: StepTask, result: StepResult, delay: float) -> None:
        send((RETRY, result, delay))

    def attempt(t: StepTask) -> StepResult:
        if t.timeout is None:
            return execute_attempt(t, None, runtime, retry_on, on_output=on_output)
        return run_attempt_forked(t, None, runtime, retry_on, on_output=on_output)

    return run_with_retries(task, attempt, on_retry=on_retry)


def worker_ref(task: StepTask) -> StepTask:
    """Point a step defined in the orchestrator's ``__main__`` script at that file.

    In a Ray worker ``__main__`` is Ray's own, so the script is loaded by path
    under another name (its ``if __name__ == "__main__":`` block does not run).
    """
    ref = task.step_ref
    if ref.module != "__main__" or not ref.path:
        return task
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and os.path.realpath(main_file) == os.path.realpath(ref.path):
        return task
    return attrs.evolve(task, step_ref=StepRef(MAIN_ALIAS, ref.qualname, ref.path))

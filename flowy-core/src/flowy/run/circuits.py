"""Circuit breakers and fallbacks on steps: ``@step(circuit_breaker=..., fallback=...)``.

The breaker's state is shared through the metadata store
(:class:`flowy.kernel.circuits.CircuitBreakers`); this module is the engine's
side of it, called from :class:`flowy.run.execution.RunRecorder` at two points:

* :func:`held_open`, when a guarded step is about to be executed (after the
  cache and ``--resume`` found nothing to serve it: a real cached result is
  better than a fallback). The store admits the run, or claims the half-open
  trial for it, or refuses: then the step is not attempted. Its ``fallback``
  supplies its outputs (run here, in the orchestrator, through the worker's
  :func:`~flowy.run.worker.execute_attempt`, so they are real artifacts with
  lineage) and the step is recorded ``fallback`` with the reason; without a
  fallback it is recorded ``skipped`` ("circuit open ...") and left out as a
  false ``when`` leaves a step out, so steps taking its outputs are skipped
  unless those inputs have defaults.
* :func:`watch`, when it was handed to the executor: once the attempt ends, a
  failure (after the step's own retries) or a timeout counts towards opening
  the breaker, and a success closes it.

A fallback's outputs are never written to the cache (a later run must not take
them for the step's real result), its record is not offered to ``--resume``,
and a run whose steps fell back still ends ``completed``: the fallback is the
degraded answer the pipeline asked for. ``flowy runs show`` and the progress
lines show it with its reason. A step that falls back fires
``flowy_step_finished`` with ``result.status == "fallback"``.
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING

from flowy.kernel.circuits import OPEN, CircuitState
from flowy.run.circuit_options import accepted

if TYPE_CHECKING:
    from concurrent.futures import Future

    from flowy.kernel.records import StepResult, StepTask
    from flowy.run.recording import RunRecorder
    from flowy.run.steps import Step

#: The status of a step run whose outputs its fallback supplied (the breaker was open).
FALLBACK = "fallback"


def open_reason(state: CircuitState) -> str:
    """Why a step was not attempted, as its record and the progress lines say it."""
    if state.state == OPEN:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(state.opened_at or 0.0))
        head = f"circuit open since {since}"
    else:
        head = f"circuit open (half-open: run {str(state.trial_run_id)[:12]} is trying the step)"
    error = (state.last_error or "no error message").splitlines()[0]
    plural = "s" if state.failures != 1 else ""
    return f"{head}, {state.failures} consecutive failure{plural}: {error}"


def held_open(run: RunRecorder, step: Step, task: StepTask) -> bool:
    """Whether the breaker kept ``step`` from being attempted; if so its fallback (or its
    skip) is recorded and the step is settled. False: attempt it (closed, or this run
    holds the half-open trial)."""
    from flowy.kernel.circuits import breakers_of

    options = step.circuit_breaker
    assert options is not None
    # A trial is held as long as the step may take: its timeout on every attempt.
    longest = (step.timeout or 0.0) * (step.retries + 1)
    admission = breakers_of(run.store).circuit_admit(
        run.pipeline.name,
        step.name,
        run.run_id,
        reset_after=options.reset_after,
        trial_expires_after=max(options.reset_after, longest),
    )
    if admission.allowed:
        return False
    reason = open_reason(admission.state)
    if step.fallback is None:
        run.inactive.add(step.name)  # what only it feeds is left out too (see planner)
        run.record_skipped(step, reason)
    else:
        fall_back(run, step, task, reason)
    return True


def fall_back(run: RunRecorder, step: Step, task: StepTask, reason: str) -> None:
    """Supply ``step``'s outputs from its fallback and record them (see the module)."""
    import attrs

    from flowy.kernel import records as R
    from flowy.kernel.records import StepRunRecord
    from flowy.run.planner import jsonable
    from flowy.run.recording import consumed, new_id, step_tags
    from flowy.run.worker import execute_attempt

    fn = step.fallback
    assert fn is not None
    offered = {**task.params, **task.inputs}
    taken = accepted(fn, offered)
    narrowed = attrs.evolve(
        task,
        inputs={k: v for k, v in task.inputs.items() if k in taken},
        params={k: v for k, v in task.params.items() if k in taken},
    )
    run.flush()
    run.notify("flowy_step_started", run=run.run, task=narrowed)
    result = execute_attempt(narrowed, fn, run.runtime)
    if result.status != R.COMPLETED:
        failed = attrs.evolve(result, error=f"{reason}; its fallback failed: {result.error}")
        run.record_result(step, narrowed, failed, None, None)
        return
    artifacts = [attrs.evolve(ref, artifact_id=new_id()) for ref in result.outputs.values()]
    logged = [attrs.evolve(ref, artifact_id=new_id()) for ref in result.artifacts_logged]
    refs = {a.name: a for a in artifacts}
    rec = StepRunRecord(
        run.run_id,
        step.name,
        FALLBACK,
        result.started_at,
        result.finished_at,
        attempts=0,
        error=reason,
        logs=result.logs,
        params={**jsonable(narrowed.params), **jsonable(result.params_logged)},
        inputs=consumed(narrowed),
        outputs={a.name: a.artifact_id for a in (*artifacts, *logged)},
        tags=step_tags(step),
    )
    run.store.record_step(rec, [*artifacts, *logged], result.metrics, None)  # never cached
    run.status[step.name] = FALLBACK
    run.records[step.name] = rec
    run.outputs.update(refs)
    run.provided.add(step.name)  # steps after it run on the fallback's outputs
    shown = attrs.evolve(result, status=FALLBACK, error=reason)
    run.notify("flowy_step_finished", run=run.run, task=narrowed, result=shown)


def watch(run: RunRecorder, step: Step, future: Future[StepResult]) -> None:
    """Tell the breaker how the attempt in ``future`` ends, once it has (see :func:`ended`)."""
    future.add_done_callback(lambda done: ended(run, step, done))


def ended(run: RunRecorder, step: Step, future: Future[StepResult]) -> None:
    """Record on the breaker how an attempted ``step`` ended: failed or timed out (after its
    own retries) counts as a failure, completed closes it.

    Called from the thread that completed ``future`` (the store serialises its
    use). A step cancelled with its run changes nothing: a trial it held is
    claimed again once the run is no longer running. A store that cannot record
    it warns: the run's own outcome stands.
    """
    from flowy.kernel import records as R
    from flowy.kernel.circuits import breakers_of

    options = step.circuit_breaker
    if options is None or future.cancelled() or future.exception() is not None:
        return
    result = future.result()
    if result.status not in (R.COMPLETED, R.FAILED, R.TIMED_OUT):
        return
    try:
        breakers_of(run.store).circuit_ended(
            run.pipeline.name,
            step.name,
            run.run_id,
            failed=result.status != R.COMPLETED,
            error=result.error,
            threshold=options.failures,
        )
    except Exception as exc:  # noqa: BLE001
        warnings.warn(
            f"recording the outcome of step {step.name!r} on its circuit breaker failed: "
            f"{type(exc).__name__}: {exc}",
            RuntimeWarning,
            stacklevel=2,
        )

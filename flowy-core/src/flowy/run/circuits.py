"""Circuit breakers and fallbacks on steps: ``@step(circuit_breaker=..., fallback=...)``.

The breaker's state is shared through the metadata store
(:class:`flowy.kernel.circuits.CircuitBreakers`); this module is the engine's
side of it, called from :class:`flowy.run.execution.RunExecution` at two points:

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

import inspect
import math
import time
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flowy.kernel.circuits import OPEN, BreakerOptions, CircuitState
from flowy.kernel.errors import StepDefinitionError

if TYPE_CHECKING:
    from concurrent.futures import Future

    from flowy.kernel.records import StepResult, StepTask
    from flowy.run.execution import RunExecution
    from flowy.run.steps import Step

#: The status of a step run whose outputs its fallback supplied (the breaker was open).
FALLBACK = "fallback"

_KEYS = ("failures", "reset_after")
_EXAMPLE = 'circuit_breaker={"failures": 3, "reset_after": 600}'


def breaker_option(name: str, option: Any, *, mapped: bool) -> BreakerOptions | None:
    """``@step(circuit_breaker=...)`` checked: a mapping with ``failures`` (consecutive
    failed runs that open it, an int >= 1) and ``reset_after`` (seconds before a trial,
    > 0); ``True`` takes the defaults (3 failures, 600 seconds)."""
    if option is None or option is False:
        return None
    where = f"Step {name!r}: circuit_breaker"
    if mapped:
        raise StepDefinitionError(
            f"{where} cannot guard a mapped step (map=...): its elements fail one by one. "
            "Put the breaker on a step that calls the flaky service once, or use max_failures."
        )
    if option is True:
        return BreakerOptions()
    if not isinstance(option, Mapping):
        raise StepDefinitionError(
            f"{where}={option!r} must be a dict, e.g. {_EXAMPLE}, or True for those defaults."
        )
    unknown = sorted(str(k) for k in option if k not in _KEYS)
    if unknown:
        raise StepDefinitionError(
            f"{where} has unknown keys {unknown}; it takes {', '.join(_KEYS)}, e.g. {_EXAMPLE}."
        )
    defaults = BreakerOptions()
    failures = option.get("failures", defaults.failures)
    if isinstance(failures, bool) or not isinstance(failures, int) or failures < 1:
        raise StepDefinitionError(
            f"{where}: failures={failures!r} must be a whole number >= 1 (consecutive failed "
            "runs of the step that open the breaker)."
        )
    reset_after = option.get("reset_after", defaults.reset_after)
    if (
        isinstance(reset_after, bool)
        or not isinstance(reset_after, int | float)
        or not math.isfinite(reset_after)
        or reset_after <= 0
    ):
        raise StepDefinitionError(
            f"{where}: reset_after={reset_after!r} must be a finite number of seconds > 0 "
            "(how long the breaker stays open before one run may try the step again)."
        )
    return BreakerOptions(failures, float(reset_after))


def fallback_option(
    step: Step, fallback: Any, breaker: BreakerOptions | None
) -> Callable[..., Any] | None:
    """``@step(fallback=...)`` checked, as the function that supplies the step's outputs.

    A :class:`~flowy.run.steps.Step` or a callable is called with those of the
    step's inputs and parameters it names (each of its parameters must be one of
    the step's, or have a default); any other value is the output itself (wrap a
    callable value as ``lambda: value``). None: no fallback.
    """
    if fallback is None:
        return None
    if breaker is None:
        raise StepDefinitionError(
            f"Step {step.name!r}: fallback= is used while the step's circuit breaker is open, "
            f"and it has none; add one, e.g. @step({_EXAMPLE}, fallback=...)."
        )
    fn: Callable[..., Any] = getattr(fallback, "fn", fallback) if _is_step(fallback) else fallback
    if fn is step.fn:
        raise StepDefinitionError(
            f"Step {step.name!r}: fallback= is the step itself; a fallback must not call what "
            "the breaker keeps from running."
        )
    if not callable(fn):
        value = fallback
        return lambda: value
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature: called with nothing
        return fn
    taken = set(step.signature.parameters)
    bad = [
        p.name
        for p in params.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in taken
        and p.default is p.empty
    ]
    if bad:
        raise StepDefinitionError(
            f"Step {step.name!r}: its fallback {getattr(fn, '__name__', fn)!r} takes {bad}, "
            f"which the step does not ({', '.join(taken) or 'it takes nothing'}). A fallback is "
            "called with the step's own inputs and parameters, by name: give those defaults."
        )
    return fn


def _is_step(obj: Any) -> bool:
    from flowy.run.steps import Step

    return isinstance(obj, Step)


def accepted(fn: Callable[..., Any], offered: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``offered`` (inputs and parameters by name) that ``fn`` takes."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return dict(offered)
    return {k: v for k, v in offered.items() if k in params}


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


def held_open(run: RunExecution, step: Step, task: StepTask) -> bool:
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


def fall_back(run: RunExecution, step: Step, task: StepTask, reason: str) -> None:
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


def watch(run: RunExecution, step: Step, future: Future[StepResult]) -> None:
    """Tell the breaker how the attempt in ``future`` ends, once it has (see :func:`ended`)."""
    future.add_done_callback(lambda done: ended(run, step, done))


def ended(run: RunExecution, step: Step, future: Future[StepResult]) -> None:
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

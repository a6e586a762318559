"""``@step(circuit_breaker=..., fallback=...)`` checked when the step is made.

Kept apart from the engine's side (:mod:`flowy.run.circuits`), which imports the
recorder and the worker: :mod:`flowy.run.steps` imports only this.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

from flowy.kernel.circuits import BreakerOptions
from flowy.kernel.errors import StepDefinitionError

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
    name: str,
    signature: inspect.Signature,
    fn_of_step: Callable[..., Any],
    fallback: Any,
    breaker: BreakerOptions | None,
) -> Callable[..., Any] | None:
    """``@step(fallback=...)`` checked, as the function that supplies the step's outputs.

    ``fallback`` comes with a :class:`~flowy.run.steps.Step` already replaced by its
    function. A callable is called with those of the step's inputs and parameters
    it names (each of its parameters must be one of the step's, or have a
    default); any other value is the output itself (wrap a callable value as
    ``lambda: value``). None: no fallback.
    """
    if fallback is None:
        return None
    if breaker is None:
        raise StepDefinitionError(
            f"Step {name!r}: fallback= is used while the step's circuit breaker is open, "
            f"and it has none; add one, e.g. @step({_EXAMPLE}, fallback=...)."
        )
    fn: Callable[..., Any] = fallback
    if fn is fn_of_step:
        raise StepDefinitionError(
            f"Step {name!r}: fallback= is the step itself; a fallback must not call what "
            "the breaker keeps from running."
        )
    if not callable(fn):
        value = fallback
        return lambda: value
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature: called with nothing
        return fn
    taken = set(signature.parameters)
    bad = [
        p.name
        for p in params.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in taken
        and p.default is p.empty
    ]
    if bad:
        raise StepDefinitionError(
            f"Step {name!r}: its fallback {getattr(fn, '__name__', fn)!r} takes {bad}, "
            f"which the step does not ({', '.join(taken) or 'it takes nothing'}). A fallback is "
            "called with the step's own inputs and parameters, by name: give those defaults."
        )
    return fn


def accepted(fn: Callable[..., Any], offered: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``offered`` (inputs and parameters by name) that ``fn`` takes."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return dict(offered)
    return {k: v for k, v in offered.items() if k in params}

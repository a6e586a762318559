"""``@step``: a plain function plus the options that say how to run it."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, overload

from flowy.kernel import names
from flowy.kernel.errors import StepDefinitionError
from flowy.kernel.records import StepRef
from flowy.run import circuit_options

_EMPTY = inspect.Parameter.empty


class Step:
    """A function wrapped with its run options.

    Calling a step calls the function, so steps stay unit-testable. Which of
    its parameters are upstream inputs and which come from the context is
    decided when a :class:`~flowy.run.pipeline.Pipeline` is built (explicit
    ``inputs=`` always wins).
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        inputs: Sequence[str] | None = None,
        outputs: Sequence[str] | None = None,
        cache: bool | str | Sequence[str] = True,
        retries: int = 0,
        retry_on: tuple[type[BaseException], ...] | type[BaseException] = (Exception,),
        retry_backoff: float = 1.0,
        timeout: float | None = None,
        resources: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        on_failure: Callable[..., Any] | None = None,
        when: Callable[[Any], bool] | None = None,
        allow_pickle: bool = False,
        register_model: str | Mapping[str, str] | None = None,
        map: str | None = None,
        max_failures: int = 0,
        branch: tuple[str, Any] | None = None,
        circuit_breaker: Mapping[str, Any] | bool | None = None,
        fallback: Any = None,
    ) -> None:
        if not callable(fn):
            raise StepDefinitionError(f"@step needs a function, got {fn!r}")
        self.fn = fn
        self.name = _step_name(fn, name)
        self.signature = inspect.signature(fn)
        for p in self.signature.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
                raise StepDefinitionError(
                    f"Step {self.name!r}: parameter {p.name!r} is {p.kind.description}; steps "
                    "take named parameters only, so Flowy can match them to inputs and context."
                )
        self.declared_inputs = list(inputs) if inputs is not None else None
        if self.declared_inputs is not None:
            unknown = [i for i in self.declared_inputs if i not in self.signature.parameters]
            if unknown:
                raise StepDefinitionError(
                    f"Step {self.name!r} declares inputs {unknown} that are not parameters of "
                    f"{fn.__name__}{self.signature}."
                )
        if isinstance(outputs, str):
            raise StepDefinitionError(
                f"Step {self.name!r}: outputs must be a list of names, got the string "
                f"{outputs!r}; write outputs=[{outputs!r}]."
            )
        if outputs is None and not names.OUTPUT.is_valid(self.name):
            raise StepDefinitionError(
                f"Step {self.name!r} has one output, named after the step, but "
                f"{names.OUTPUT.message(self.name)} Name it with @step(outputs=[...])."
            )
        self.outputs = list(outputs) if outputs is not None else [self.name]
        for out in self.outputs:
            names.check(names.OUTPUT, out, error=StepDefinitionError, where=f"Step {self.name!r}: ")
        if not self.outputs or len(set(self.outputs)) != len(self.outputs):
            raise StepDefinitionError(f"Step {self.name!r}: outputs must be distinct names")
        self.cache = _cache_strategies(self.name, cache)
        if retries < 0:
            raise StepDefinitionError(f"Step {self.name!r}: retries must be >= 0, got {retries}")
        if timeout is not None and timeout <= 0:
            raise StepDefinitionError(f"Step {self.name!r}: timeout must be > 0 seconds")
        self.retries = retries
        self.retry_on = retry_on if isinstance(retry_on, tuple) else (retry_on,)
        self.retry_backoff = retry_backoff
        self.timeout = timeout
        self.resources = dict(resources or {})
        self.tags = list(tags)
        self.on_failure = on_failure
        self.when = when
        self.allow_pickle = allow_pickle
        #: Output name -> model name registered on every run (by flowy.tracking.plugin).
        self.register_model = normalize_register_option(self.name, self.outputs, register_model)
        #: The input this step runs once per element of (see :mod:`flowy.run.mapping`), or None.
        self.map = _map_option(self.name, self.signature, map)
        if max_failures < 0 or (max_failures and map is None):
            raise StepDefinitionError(
                f"Step {self.name!r}: max_failures={max_failures!r} needs map=... and a count "
                ">= 0 (how many elements may fail while the others go on)."
            )
        #: Elements of a map that may fail while the successful ones are passed on.
        self.max_failures = max_failures
        #: ``(output, value)``: run only when that upstream output has that value
        #: (:mod:`flowy.run.branching`); None: always.
        self.branch = branch_option(self.name, branch)
        #: ``circuit_breaker=``/``fallback=`` checked (:mod:`flowy.run.circuits`), or None.
        self.circuit_breaker = circuit_options.breaker_option(
            self.name, circuit_breaker, mapped=map is not None
        )
        self.fallback = circuit_options.fallback_option(
            self.name,
            self.signature,
            fn,
            fallback.fn if isinstance(fallback, Step) else fallback,
            self.circuit_breaker,
        )
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<step {self.name}{self.signature}>"

    @property
    def parameters(self) -> list[str]:
        return list(self.signature.parameters)

    def has_default(self, param: str) -> bool:
        return self.signature.parameters[param].default is not _EMPTY

    def split_outputs(self, value: Any) -> dict[str, Any]:
        """Map the function's return value to named outputs."""
        if len(self.outputs) == 1:
            return {self.outputs[0]: value}
        if isinstance(value, Mapping):
            missing = [o for o in self.outputs if o not in value]
            if missing:
                raise StepDefinitionError(
                    f"Step {self.name!r} returned a dict without outputs {missing}; "
                    f"it declares outputs {self.outputs}."
                )
            return {o: value[o] for o in self.outputs}
        if isinstance(value, tuple) and len(value) == len(self.outputs):
            return dict(zip(self.outputs, value, strict=True))
        raise StepDefinitionError(
            f"Step {self.name!r} declares {len(self.outputs)} outputs {self.outputs} but returned "
            f"{type(value).__name__}; return a tuple of that length or a dict with those keys."
        )

    @property
    def ref(self) -> StepRef:
        """How a worker in another process imports this step."""
        module = self.fn.__module__
        mod = sys.modules.get(module)
        path = getattr(mod, "__flowy_path__", None) or (
            getattr(mod, "__file__", None) if module == "__main__" else None
        )
        return StepRef(module=module, qualname=self.fn.__qualname__, path=path)


def _step_name(fn: Callable[..., Any], name: str | None) -> str:
    """The step's name: ``name``, else the function's; refused unless valid (flowy.kernel.names)."""
    if name is not None:
        return names.check(names.STEP, name, error=StepDefinitionError)
    derived = getattr(fn, "__name__", None)
    if not names.STEP.is_valid(derived):
        raise StepDefinitionError(
            f"A step is named after its function, and {fn!r} has no valid name: "
            f"{names.STEP.problem(derived)}. Name the step with @step(name=...): "
            f"{names.STEP.allowed}."
        )
    assert isinstance(derived, str)
    return derived


def normalize_register_option(
    step_name: str, outputs: list[str], option: str | Mapping[str, str] | None
) -> dict[str, str]:
    """``@step(register_model=...)`` as {output: model name}, validated when the step is made.

    A model name follows :data:`flowy.kernel.names.MODEL`, the rule the model
    registry (:mod:`flowy.tracking.models`) applies to every name it is given.
    """
    if option is None:
        return {}
    if isinstance(option, str):
        if len(outputs) != 1:
            raise StepDefinitionError(
                f"Step {step_name!r} has outputs {outputs}: say which to register, e.g. "
                f"register_model={{{outputs[0]!r}: {option!r}}}."
            )
        option = {outputs[0]: option}
    unknown = [o for o in option if o not in outputs]
    if unknown:
        raise StepDefinitionError(
            f"Step {step_name!r}: register_model names outputs {unknown} it does not have; "
            f"its outputs are {outputs}."
        )
    where = f"Step {step_name!r}: "
    return {
        out: names.check(names.MODEL, name, error=StepDefinitionError, where=where)
        for out, name in option.items()
    }


def branch_option(name: str, option: Any) -> tuple[str, Any] | None:
    """``@step(branch=...)`` checked: ``(output, value)`` or ``(output, {values})``."""
    if option is None:
        return None
    if not (isinstance(option, tuple) and len(option) == 2 and isinstance(option[0], str)):
        raise StepDefinitionError(
            f"Step {name!r}: branch={option!r} must be a pair (output, value): the step runs "
            "only when that upstream output equals the value, e.g. branch=('route', 'fast'), "
            "or is one of several, branch=('route', {'fast', 'cheap'})."
        )
    return option


def _map_option(name: str, signature: inspect.Signature, option: str | None) -> str | None:
    """``@step(map=...)`` checked: the name of one of the step's parameters."""
    if option is None:
        return None
    if not isinstance(option, str) or option not in signature.parameters:
        raise StepDefinitionError(
            f"Step {name!r}: map={option!r} must name one of its parameters "
            f"({', '.join(signature.parameters) or 'it has none'}): the input whose elements "
            "the step runs once each."
        )
    return option


def _cache_strategies(name: str, cache: bool | str | Sequence[str]) -> list[str]:
    if cache is True:
        return ["code_hash", "input_hash"]
    if cache is False or cache is None:
        return []
    if isinstance(cache, str):
        names = [c.strip() for c in cache.replace(" ", ",").split(",") if c.strip()]
    else:
        names = list(cache)
    if not names:
        raise StepDefinitionError(f"Step {name!r}: cache names no strategy")
    return names


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(fn: None = None, /, **options: Any) -> Callable[[Callable[..., Any]], Step]: ...


def step(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a pipeline step: ``@step`` or ``@step(retries=2, timeout=30)``.

    Options: ``name``, ``inputs``, ``outputs``, ``cache`` (True, False, or
    strategy names), ``retries``, ``retry_on``, ``retry_backoff`` (seconds, doubled
    each attempt), ``timeout`` (seconds), ``resources``, ``tags``,
    ``on_failure(step_name, error)``, ``when(context) -> bool``, ``allow_pickle``,
    ``register_model`` (a model name, or {output: model name}: registers the
    output as a new model version on every run), ``map`` (an input: run once per
    element of that list, see docs/dynamic.md) and ``max_failures`` (elements of a
    map that may fail while the others are passed on), ``branch`` (``(output, value)``:
    run only when an upstream output has that value), ``circuit_breaker``
    (``{"failures": 3, "reset_after": 600}``: stop attempting the step after that many
    consecutive failed runs, try again after that many seconds) and ``fallback`` (a
    value, a step or a callable supplying the outputs while the breaker is open; see
    docs/operations.md).
    """
    if fn is not None:
        if options:
            raise StepDefinitionError("use @step or @step(**options), not both")
        return Step(fn)

    def decorate(func: Callable[..., Any]) -> Step:
        try:
            return Step(func, **options)
        except TypeError as exc:
            raise StepDefinitionError(f"@step on {func.__name__}: {exc}") from exc

    return decorate

"""The function of a nested step: called with the outer pipeline's names, it calls the
step's own function with the names that function was written with.

A step of a nested pipeline (:mod:`flowy.run.nesting`) reads the outer pipeline's
outputs and parameters, whose names may differ from its function's parameters
(``prep.as_step(inputs={"raw": "data"})`` hands ``data`` to a function taking
``raw``). The engine calls a step's function with its inputs and parameters by
name, so the flattened step's function is a :class:`Renamed`, which renames the
keywords and calls the original.

Workers in other processes (the local pool, Dask) find a step by its
:class:`~flowy.kernel.records.StepRef`, importing ``module`` and following
``qualname``. A :class:`Renamed` carries everything needed to rebuild it in its
reference: the module is this one and the qualname is ``_by_ref.<code>``,
where ``<code>`` is the original function's reference and the renaming, as
URL-safe base64 of JSON (no ``.``, so it stays one qualname part). Importing the
original is left to :func:`flowy.run.worker.resolve_step_function`, exactly as
for an ordinary step. A function a worker could not import (defined inside a
function, or in an interactive ``__main__``) gets a qualname with ``<`` in it,
which executors take as "run it in this process", as they do for the original.
"""

from __future__ import annotations

import base64
import functools
import importlib.machinery
import inspect
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from flowy.kernel.records import StepRef

#: The module name a Dask worker gives the orchestrator's ``__main__`` script
#: (``flowy_executor_dask._task.MAIN_ALIAS``); a script's step is loaded under it.
MAIN_ALIAS = "__flowy_main__"


class Renamed:
    """``fn`` called with keywords renamed: outer name -> the name ``fn`` takes."""

    def __init__(self, fn: Callable[..., Any], names: Mapping[str, str], origin: StepRef) -> None:
        self.fn = fn
        """The original function (:func:`flowy.run.caching.code_hash` hashes it, not this)."""
        self.names = dict(names)
        self.origin = origin
        """Where a worker imports the original function from."""
        self.__wrapped__ = fn  # inspect.unwrap: the function's globals, for its annotations
        self.__name__ = getattr(fn, "__name__", "step")
        self.__doc__ = fn.__doc__
        self.__module__ = __name__
        self.__qualname__ = qualname_for(origin, self.names)

    # What introspection of the step's parameters sees (inspect.signature,
    # typing.get_type_hints: an ``Iterator[...]`` input streams): the outer names.
    # Computed when asked: flattening makes many of these, and a worker needs few.

    @functools.cached_property
    def __signature__(self) -> inspect.Signature:
        own = {inner: outer for outer, inner in self.names.items()}
        signature = inspect.signature(self.fn)
        return signature.replace(
            parameters=[
                p.replace(name=own.get(p.name, p.name)) for p in signature.parameters.values()
            ]
        )

    @functools.cached_property
    def __annotations__(self) -> dict[str, Any]:  # type: ignore[override]
        own = {inner: outer for outer, inner in self.names.items()}
        annotations = getattr(self.fn, "__annotations__", None) or {}
        return {own.get(k, k): v for k, v in annotations.items()}

    def __call__(self, **kwargs: Any) -> Any:
        return self.fn(**{self.names.get(k, k): v for k, v in kwargs.items()})

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.origin, self.names))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}->{v}" for k, v in sorted(self.names.items()))
        return f"<renamed {self.origin.module}.{self.origin.qualname} ({shown})>"


def renamed(fn: Callable[..., Any], ref: StepRef, names: Mapping[str, str]) -> Callable[..., Any]:
    """``fn`` (whose step reference is ``ref``) called with ``names`` (outer -> its own).

    ``names`` names every parameter of the step, renamed or not. Renaming a
    :class:`Renamed` composes the two renamings over the one original function;
    nothing renamed gives ``fn`` back, so a nested step whose names all pass
    through unchanged runs its own function, with its own reference.
    """
    if isinstance(fn, Renamed):
        names = {outer: fn.names.get(inner, inner) for outer, inner in names.items()}
        ref = fn.origin
        fn = fn.fn
    changed = {k: v for k, v in names.items() if k != v}
    if not changed:
        return fn
    return Renamed(fn, changed, portable(ref))


def portable(ref: StepRef) -> StepRef:
    """``ref`` with the file of a module a fresh process could not import by name.

    (Test files imported with ``--import-mode=importlib``, modules put in
    ``sys.modules`` by hand: the local executor adds such a path to an ordinary
    step's reference itself, but it sees only this module in a nested step's.)
    """
    if ref.path or ref.module == "__main__":
        return ref
    if _findable(ref.module.partition(".")[0]):
        return ref
    path = getattr(sys.modules.get(ref.module), "__file__", None)
    return StepRef(ref.module, ref.qualname, path) if path else ref


@functools.cache
def _findable(top: str) -> bool:
    """Whether a fresh process finds the top-level module ``top`` on its path (once each:
    a search of every path entry, which flattening asks for each nested step)."""
    return top in sys.builtin_module_names or (
        importlib.machinery.PathFinder.find_spec(top) is not None
    )


def qualname_for(origin: StepRef, names: Mapping[str, str]) -> str:
    """``_by_ref.<code>``; with a ``<`` when no worker process could import the original."""
    code = base64.urlsafe_b64encode(
        json.dumps([origin.module, origin.qualname, origin.path, sorted(names.items())]).encode()
    ).decode()
    code = code.rstrip("=")
    unimportable = "<" in origin.qualname or (origin.module == "__main__" and not origin.path)
    return f"<local>.{code}" if unimportable else f"_by_ref.{code}"


class _Resolved:
    """What ``_by_ref.<code>`` resolves to: the worker takes its ``fn``, as of a Step."""

    def __init__(self, fn: Renamed) -> None:
        self.fn = fn


class _ByRef:
    """``_by_ref.<code>``: a :class:`Renamed` rebuilt from its reference in a worker."""

    def __init__(self) -> None:
        self._found: dict[str, _Resolved] = {}

    def __getattr__(self, code: str) -> _Resolved:
        if code.startswith("__"):
            raise AttributeError(code)
        found = self._found.get(code)
        if found is None:
            padded = code + "=" * (-len(code) % 4)
            module, qualname, path, names = json.loads(base64.urlsafe_b64decode(padded))
            found = _Resolved(_rebuild(StepRef(module, qualname, path), dict(names)))
            self._found[code] = found
        return found


_by_ref = _ByRef()


def _rebuild(origin: StepRef, names: dict[str, str]) -> Renamed:
    """The :class:`Renamed` of ``origin``'s function, imported as a worker imports a step."""
    from flowy.run.worker import resolve_step_function

    where = origin
    if origin.module == "__main__" and origin.path:  # a script: this process's __main__?
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if not main_file or os.path.realpath(main_file) != os.path.realpath(origin.path):
            where = StepRef(MAIN_ALIAS, origin.qualname, origin.path)
    return Renamed(resolve_step_function(where), names, origin)

"""The base every stack component (executor, stores) derives from.

It sits in its own module because the contracts built on it live in two:
:mod:`flowy.kernel.contracts` (artifact store, executor, materializer, cache
strategy) and :mod:`flowy.kernel.metadata_store`, which the first re-exports.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar


class LazyOptions:
    """A component's ``Options`` model named by ``"package.module:Model"``, imported on use.

    Defining a pydantic model costs milliseconds and importing pydantic tens of them,
    in every process that imports the component's module. A run whose stack options
    were validated before reads the result from a cache
    (:mod:`flowy.stacks.options_cache`) and never needs the model, so components
    declare it lazily::

        class MyExecutor(Executor):
            Options = LazyOptions("my_plugin.options:MyOptions")

    ``MyExecutor.Options`` then imports and returns the model, as a plain class
    attribute would.
    """

    def __init__(self, target: str) -> None:
        module, sep, name = target.partition(":")
        if not sep or not module or not name:
            raise ValueError(f"LazyOptions needs 'package.module:Model', not {target!r}")
        self.target = target
        self.module = module
        self._name = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        return getattr(importlib.import_module(self.module), self._name)

    def __repr__(self) -> str:
        return f"LazyOptions({self.target!r})"


class Component:
    """Base of every stack component: options in, ``close()`` out."""

    #: Optional pydantic model validating this component's stack options (or a
    #: :class:`LazyOptions` naming it).
    Options: ClassVar[Any] = None

    def close(self) -> None:
        """Release resources (connections, pools). Called once when a run ends."""

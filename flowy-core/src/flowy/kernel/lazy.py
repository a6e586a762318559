"""Public names of a package, imported from its submodules on first use.

``flowy``, ``flowy.testing`` and the layer packages (``flowy.artifacts``, ``flowy.stacks``,
``flowy.run``, ``flowy.tracking``) each show a small public surface whose names live in
private submodules. Importing the package must stay cheap (``import flowy`` may not import
the engine, networkx or pytest), so each package keeps a map from public name to where the
name lives and hands it to :func:`lazy_exports`, which returns the package's module-level
``__getattr__`` and ``__dir__`` (PEP 562).

A target is ``"module"`` (the attribute of the same name) or ``"module:attribute"`` when the
public name differs from the one in the module (``render_dag`` is ``flowy.run.dag_view:render``),
the same spelling as the registry's dotted paths.

Names are looked up on every access, never cached in the package: a test that monkeypatches
``flowy.run.worker.execute_attempt`` is seen through ``flowy.run.execute_attempt`` too, as it
is by a direct import of the submodule. The lookup is two dictionary reads once the
submodule is imported. This module imports nothing but the standard library's import system.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def split_target(target: str, name: str) -> tuple[str, str]:
    """Return ``(module, attribute)`` of a map entry: ``"mod:attr"``, or ``"mod"`` for ``name``."""
    module, _, attribute = target.partition(":")
    return module, attribute or name


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the ``__getattr__`` and ``__dir__`` of ``package``, which re-exports ``exports``.

    ``exports`` maps each public name to its target (see the module docstring). A name not in
    the map raises the usual :class:`AttributeError`, so ``from package import submodule``
    still falls back to importing the submodule.
    """
    targets = {name: split_target(target, name) for name, target in exports.items()}

    def __getattr__(name: str) -> Any:
        try:
            module_name, attribute = targets[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        module = sys.modules.get(module_name) or importlib.import_module(module_name)
        return getattr(module, attribute)

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(targets))

    return __getattr__, __dir__

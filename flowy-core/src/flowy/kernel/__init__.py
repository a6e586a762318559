"""The kernel: hook specs, the plugin manager, entry points, the registry, the contracts every
plugin implements, records and errors. It imports nothing else of Flowy.

This package module also holds :func:`lazy_exports`, the one helper by which ``flowy``,
``flowy.testing`` and the layer packages publish their names lazily. It lives here rather than
in a module of its own because every ``import flowy`` already runs this file: one more module
would be one more file to find and read on every start.

``flowy``, ``flowy.testing`` and the layer packages (``flowy.artifacts``, ``flowy.stacks``,
``flowy.run``, ``flowy.tracking``) each show a small public surface whose names live in
private submodules. Importing the package must stay cheap (``import flowy`` may not import
the engine, networkx or pytest), so each package keeps a map from public name to where the
name lives and hands it to :func:`lazy_exports`, which returns the package's module-level
``__getattr__`` and ``__dir__`` (PEP 562).

A target is ``"module"`` (the attribute of the same name) or ``"module:attribute"`` when the
public name differs from the one in the module (``render_dag`` is ``flowy.run.dag_view:render``),
the same spelling as the registry's dotted paths.

The first access stores the value in the package, so later ones are plain attribute reads:
on Python 3.11 a module ``__getattr__`` call costs microseconds (the interpreter raises and
clears an AttributeError first), too much for ``flowy.log_metric`` in a training loop. Like
``from module import name``, the package then keeps the object it got: patch the submodule
before the first access, or patch the package's attribute. This file imports nothing but
the standard library's import system.
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

    ``exports`` maps each public name to its target (see the module docstring); the value is
    stored in the package on first access. A name not in the map raises the usual
    :class:`AttributeError`, so ``from package import submodule`` still falls back to
    importing the submodule.
    """
    targets = {name: split_target(target, name) for name, target in exports.items()}

    def __getattr__(name: str) -> Any:
        try:
            module_name, attribute = targets[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        module = sys.modules.get(module_name) or importlib.import_module(module_name)
        value = getattr(module, attribute)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(targets))

    return __getattr__, __dir__

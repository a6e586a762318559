"""Old module paths that keep working for one release after the core moved into layers.

Issue 19 moved every module of flowy-core into ``flowy/kernel``, ``flowy/artifacts``,
``flowy/stacks``, ``flowy/run`` and ``flowy/tracking``. A plugin written against
``flowy.records`` or ``flowy.worker`` must not break on upgrade, so each old path is a
tiny module whose attributes are fetched from the new one on first use, with a
:class:`DeprecationWarning` naming the new path. The shim imports nothing until an
attribute is asked for, so it costs nothing to the code that no longer uses it.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

#: The release that removes the old paths; the warning names it so users can plan.
REMOVED_IN = "0.3"

#: Each old module path -> (its new module, the names that went elsewhere -> their module),
#: filled as each shim is imported; flowy-core/tests/test_moved_paths.py reads it.
MOVED: dict[str, tuple[str, dict[str, str]]] = {}


def forward(
    old: str, new: str, elsewhere: Mapping[str, str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the ``__getattr__`` and ``__dir__`` of the deprecated module ``old``.

    Each attribute read on ``old`` warns once per call site (the default warning filter)
    and returns the attribute of ``new``, the very same object, so ``isinstance`` checks
    and monkeypatching of classes behave as before. ``elsewhere`` maps the few names
    that went to another module than ``new`` (attribute -> module).
    """
    elsewhere = dict(elsewhere or {})
    MOVED[old] = (new, elsewhere)

    def __getattr__(name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # copy, pickle and doctest probe dunders: no warning
        target = importlib.import_module(elsewhere.get(name, new))
        try:
            value = getattr(target, name)
        except AttributeError:
            raise AttributeError(
                f"module {old!r} (now {new!r}) has no attribute {name!r}"
            ) from None
        warnings.warn(
            f"{old} is deprecated: import {name} from {target.__name__} instead "
            f"(the old path is removed in Flowy {REMOVED_IN})",
            DeprecationWarning,
            stacklevel=2,
        )
        return value

    def __dir__() -> list[str]:
        names = {n for n in dir(importlib.import_module(new)) if not n.startswith("__")}
        return sorted(names | elsewhere.keys())

    return __getattr__, __dir__

"""Which materializers can work here, found without importing any framework.

``importlib.util.find_spec`` locates a top-level package on ``sys.path``
without executing it, so this answers in milliseconds even when torch and
tensorflow are installed. The CLI does the same from the registry alone: a
registration's ``requires`` lists import names; a materializer is available
when ``find_spec`` finds every one of them.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from flowy_materializers.plugin import MATERIALIZERS


def missing_modules(requires: list[str]) -> list[str]:
    """The import names in ``requires`` that cannot be found."""
    return [name for name in requires if importlib.util.find_spec(name) is None]


def availability() -> dict[str, dict[str, Any]]:
    """For each materializer: ``available``, ``missing`` import names and the pip ``install``."""
    result: dict[str, dict[str, Any]] = {}
    for name, info in MATERIALIZERS.items():
        missing = missing_modules(list(info.get("requires", [])))
        result[name] = {
            "available": not missing,
            "missing": missing,
            "install": info.get("install", "flowy-materializers"),
            "reason": (
                f"{', '.join(missing)} not installed: pip install '{info.get('install')}'"
                if missing
                else ""
            ),
        }
    return result

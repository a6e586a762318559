"""Stacks: stack files, their validation, references and resolution into components.
Imports only the kernel and artifacts.

The names that ``flowy.stacks`` had before the layers existed are re-exported here
from :mod:`flowy.stacks.definitions`, without a warning: they are this layer's public API.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DEFAULT_STACK",
    "REQUIRED_KINDS",
    "CheckedComponent",
    "ResolvedStack",
    "StackDefinition",
    "active_stack_name",
    "check_stack",
    "delete_stack_file",
    "get_stack",
    "list_stacks",
    "lookup_component",
    "parse_stack_file",
    "resolve_stack",
    "save_stack",
    "stack_dirs",
    "stack_files",
    "stack_label",
    "stack_names",
    "validate_name",
]

_LAZY = dict.fromkeys(__all__, "flowy.stacks.definitions")


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

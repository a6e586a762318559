"""Stacks: stack files, their validation, references and resolution into components.
Imports only the kernel and artifacts.

The names below are this layer's public surface: what ``flowy.stacks`` held before the layers
existed (now :mod:`flowy.stacks.definitions`), re-exported without a warning, and the
component options of a stack file. They are imported from their submodules on first use; the
submodules are private (see the ``plugins-public-api`` import contract in pyproject.toml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy.kernel import lazy_exports

#: Public name -> "module" or "module:attribute" it comes from (see flowy.kernel.lazy_exports).
_LAZY = {
    "DEFAULT_STACK": "flowy.stacks.definitions",
    "REQUIRED_KINDS": "flowy.kernel.registry",
    "CheckedComponent": "flowy.stacks.resolution",
    "ResolvedStack": "flowy.stacks.resolution",
    "StackDefinition": "flowy.stacks.definitions",
    "active_stack_name": "flowy.stacks.resolution",
    "check_stack": "flowy.stacks.resolution",
    "delete_stack_file": "flowy.stacks.definitions",
    "get_stack": "flowy.stacks.definitions",
    "list_stacks": "flowy.stacks.definitions",
    "lookup_component": "flowy.stacks.resolution",
    "parse_stack_file": "flowy.stacks.definitions",
    "resolve_stack": "flowy.stacks.resolution",
    "save_stack": "flowy.stacks.definitions",
    "stack_dirs": "flowy.stacks.definitions",
    "stack_files": "flowy.stacks.definitions",
    "stack_label": "flowy.stacks.definitions",
    "stack_names": "flowy.stacks.definitions",
    "stack_settings": "flowy.stacks.resolution",
    "validate_name": "flowy.stacks.definitions",
    "options_of": "flowy.stacks.stackfile",
}

__all__ = [  # spelled out (not *_LAZY) so linters and type checkers can read it
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
    "options_of",
    "parse_stack_file",
    "resolve_stack",
    "save_stack",
    "stack_dirs",
    "stack_files",
    "stack_label",
    "stack_names",
    "stack_settings",
    "validate_name",
]

if TYPE_CHECKING:  # listed in __all__, so re-exported for type checkers (strict mypy)
    from flowy.kernel.registry import REQUIRED_KINDS
    from flowy.stacks.definitions import (
        DEFAULT_STACK,
        StackDefinition,
        delete_stack_file,
        get_stack,
        list_stacks,
        parse_stack_file,
        save_stack,
        stack_dirs,
        stack_files,
        stack_label,
        stack_names,
        validate_name,
    )
    from flowy.stacks.resolution import (
        CheckedComponent,
        ResolvedStack,
        active_stack_name,
        check_stack,
        lookup_component,
        resolve_stack,
        stack_settings,
    )
    from flowy.stacks.stackfile import options_of

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

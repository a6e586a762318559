"""Artifacts: writing and reading them, checksums, store keys, sidecars, choosing a
materializer, and the built-in materializers. Imports only the kernel.

The names that ``flowy.artifacts`` had before the layers existed are re-exported here
from :mod:`flowy.artifacts.store_io`, without a warning: they are this layer's public API.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CHUNK",
    "WRITE_BUFFER",
    "HashingReader",
    "HashingWriter",
    "read_artifact",
    "reads_paths",
    "unsafe_load_allowed",
    "verify_artifact",
    "write_artifact",
    "write_with_sidecar",
]

_LAZY = dict.fromkeys(__all__, "flowy.artifacts.store_io")


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

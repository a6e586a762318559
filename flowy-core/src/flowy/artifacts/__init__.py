"""Artifacts: writing and reading them, checksums, store keys, sidecars, choosing a
materializer, and the built-in materializers. Imports only the kernel.

The names below are this layer's public surface. The first group is what ``flowy.artifacts``
held before the layers existed (now :mod:`flowy.artifacts.store_io`), re-exported without a
warning; the others are what the CLI and plugins use. They are imported from their
submodules on first use; the submodules are private (see the ``plugins-public-api`` import
contract in pyproject.toml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowy.kernel.lazy import lazy_exports

#: Public name -> "module" or "module:attribute" it comes from (see flowy.kernel.lazy).
_LAZY = {
    # writing and reading artifact bytes (the old flowy.artifacts module)
    "CHUNK": "flowy.artifacts.store_io",
    "WRITE_BUFFER": "flowy.artifacts.store_io",
    "HashingReader": "flowy.artifacts.store_io",
    "HashingWriter": "flowy.artifacts.store_io",
    "read_artifact": "flowy.artifacts.store_io",
    "reads_paths": "flowy.artifacts.store_io",
    "unsafe_load_allowed": "flowy.artifacts.store_io",
    "verify_artifact": "flowy.artifacts.store_io",
    "write_artifact": "flowy.artifacts.store_io",
    "write_with_sidecar": "flowy.artifacts.store_io",
    # checksums, choosing a materializer, rebuilding the index from sidecars
    "Checksum": "flowy.artifacts.checksums",
    "short_checksum": "flowy.artifacts.checksums:short",
    "PICKLE_NAMES": "flowy.artifacts.resolution",
    "MaterializerRegistry": "flowy.artifacts.resolution",
    "type_name": "flowy.artifacts.resolution",
    "check_index": "flowy.artifacts.rebuild",
    "rebuild_index": "flowy.artifacts.rebuild",
}

__all__ = [  # spelled out (not *_LAZY) so linters and type checkers can read it
    "CHUNK",
    "PICKLE_NAMES",
    "WRITE_BUFFER",
    "Checksum",
    "HashingReader",
    "HashingWriter",
    "MaterializerRegistry",
    "check_index",
    "read_artifact",
    "reads_paths",
    "rebuild_index",
    "short_checksum",
    "type_name",
    "unsafe_load_allowed",
    "verify_artifact",
    "write_artifact",
    "write_with_sidecar",
]

if TYPE_CHECKING:  # "X as X" marks explicit re-exports for type checkers (strict mypy)
    from flowy.artifacts.checksums import Checksum as Checksum
    from flowy.artifacts.checksums import short as short_checksum
    from flowy.artifacts.rebuild import check_index as check_index
    from flowy.artifacts.rebuild import rebuild_index as rebuild_index
    from flowy.artifacts.resolution import PICKLE_NAMES as PICKLE_NAMES
    from flowy.artifacts.resolution import MaterializerRegistry as MaterializerRegistry
    from flowy.artifacts.resolution import type_name as type_name
    from flowy.artifacts.store_io import CHUNK as CHUNK
    from flowy.artifacts.store_io import WRITE_BUFFER as WRITE_BUFFER
    from flowy.artifacts.store_io import HashingReader as HashingReader
    from flowy.artifacts.store_io import HashingWriter as HashingWriter
    from flowy.artifacts.store_io import read_artifact as read_artifact
    from flowy.artifacts.store_io import reads_paths as reads_paths
    from flowy.artifacts.store_io import unsafe_load_allowed as unsafe_load_allowed
    from flowy.artifacts.store_io import verify_artifact as verify_artifact
    from flowy.artifacts.store_io import write_artifact as write_artifact
    from flowy.artifacts.store_io import write_with_sidecar as write_with_sidecar

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

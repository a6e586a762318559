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

from flowy.kernel import lazy_exports

#: Public name -> "module" or "module:attribute" it comes from (see flowy.kernel.lazy_exports).
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
    # lists stored element by element, for maps (@step(map=...))
    "Collection": "flowy.artifacts.collection",
    "element_of": "flowy.artifacts.collection",
    "load_elements": "flowy.artifacts.collection",
}

__all__ = [  # spelled out (not *_LAZY) so linters and type checkers can read it
    "CHUNK",
    "PICKLE_NAMES",
    "WRITE_BUFFER",
    "Checksum",
    "Collection",
    "HashingReader",
    "HashingWriter",
    "MaterializerRegistry",
    "check_index",
    "element_of",
    "load_elements",
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

if TYPE_CHECKING:  # listed in __all__, so re-exported for type checkers (strict mypy)
    from flowy.artifacts.checksums import Checksum
    from flowy.artifacts.checksums import short as short_checksum
    from flowy.artifacts.collection import Collection, element_of, load_elements
    from flowy.artifacts.rebuild import check_index, rebuild_index
    from flowy.artifacts.resolution import PICKLE_NAMES, MaterializerRegistry, type_name
    from flowy.artifacts.store_io import (
        CHUNK,
        WRITE_BUFFER,
        HashingReader,
        HashingWriter,
        read_artifact,
        reads_paths,
        unsafe_load_allowed,
        verify_artifact,
        write_artifact,
        write_with_sidecar,
    )

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

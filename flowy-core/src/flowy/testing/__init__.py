"""Test helpers for Flowy and its plugins: contract suites every implementation runs.

A plugin tests its component against the same behaviour as the built-in ones
by subclassing a suite and providing a ``store`` fixture::

    from flowy.testing import ArtifactStoreContract

    class TestMyStore(ArtifactStoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(tmp_path)

Names are imported on first use, so importing this package does not import
pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

_LAZY = {
    "ArtifactStoreContract": "flowy.testing.artifact_store",
    "MetadataStoreContract": "flowy.testing.metadata_store",
    "ExecutorContract": "flowy.testing.executor",
}

__all__ = ["ArtifactStoreContract", "ExecutorContract", "MetadataStoreContract"]

if TYPE_CHECKING:
    from flowy.testing.artifact_store import ArtifactStoreContract
    from flowy.testing.executor import ExecutorContract
    from flowy.testing.metadata_store import MetadataStoreContract


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'flowy.testing' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value

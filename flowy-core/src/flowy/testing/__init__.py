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

from typing import TYPE_CHECKING

from flowy.kernel import lazy_exports

#: Public name -> the module it lives in, imported on first use (see flowy.kernel.lazy_exports).
_LAZY = {
    "ArtifactStoreContract": "flowy.testing.artifact_store",
    "CacheStrategyContract": "flowy.testing.cache_strategy",
    "ExecutorContract": "flowy.testing.executor",
    "MaterializerContract": "flowy.testing.materializer",
    "MetadataStoreContract": "flowy.testing.metadata_store",
    "NotifierContract": "flowy.testing.notifier",
    "TrackerContract": "flowy.testing.tracker",
    "mock_step": "flowy.testing.mocking",
    "mock_steps": "flowy.testing.mocking",
}

__all__ = [
    "ArtifactStoreContract",
    "CacheStrategyContract",
    "ExecutorContract",
    "MaterializerContract",
    "MetadataStoreContract",
    "NotifierContract",
    "TrackerContract",
    "mock_step",
    "mock_steps",
]

if TYPE_CHECKING:
    from flowy.testing.artifact_store import ArtifactStoreContract
    from flowy.testing.cache_strategy import CacheStrategyContract
    from flowy.testing.executor import ExecutorContract
    from flowy.testing.materializer import MaterializerContract
    from flowy.testing.metadata_store import MetadataStoreContract
    from flowy.testing.mocking import mock_step, mock_steps
    from flowy.testing.notifier import NotifierContract
    from flowy.testing.tracker import TrackerContract


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

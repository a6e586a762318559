"""The contract every :class:`~flowy.kernel.contracts.Materializer` must meet, as tests.

Subclass :class:`MaterializerContract` in a class whose name starts with
``Test`` and provide two fixtures and one method::

    class TestMyMaterializer(MaterializerContract):
        plugins = [("my-dist", "my_dist.plugin")]   # who registers it

        @pytest.fixture
        def materializer(self):
            return MyMaterializer()

        @pytest.fixture
        def samples(self):
            return [MyThing(1), MyThing(2)]

        def assert_equal(self, expected, actual):
            assert expected == actual

Every check goes through the real path an artifact takes:
:func:`flowy.artifacts.store_io.write_artifact` and
:func:`~flowy.artifacts.store_io.read_artifact` on a local artifact store in a
temporary folder (flowy-store-sqlite's ``LocalArtifactStore``; the suite is
skipped when that distribution is missing), with a
:class:`~flowy.artifacts.resolution.MaterializerRegistry` built from a fresh plugin
manager holding only the plugins named in :attr:`MaterializerContract.plugins`
(core's built-in plugin is always there). Unsafe materializers (``safe =
False``) are exercised under the pickle opt-in, and must be refused without it.
A materializer that implements the optional ``load_path`` is also read through
a store without local paths (:class:`StreamOnlyStore`, as a remote store is
read), and must give the same objects and refuse the same damage there.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

import pytest

from flowy.artifacts.checksums import algorithm_of
from flowy.artifacts.resolution import MaterializerRegistry, type_name
from flowy.artifacts.store_io import read_artifact, reads_paths, write_artifact
from flowy.kernel.contracts import ArtifactStore
from flowy.kernel.errors import (
    ChecksumMismatchError,
    MaterializerNotFoundError,
    UnsafeArtifactError,
)

if TYPE_CHECKING:
    from pathlib import Path

    from flowy.kernel.contracts import Materializer
    from flowy.kernel.records import ArtifactRef


class StreamOnlyStore(ArtifactStore):
    """Another store's artifacts without local paths: read as a remote store is read."""

    def __init__(self, inner: ArtifactStore) -> None:
        self.inner = inner

    def uri_for(self, key: str) -> str:
        return self.inner.uri_for(key)

    def open_write(self, uri: str) -> AbstractContextManager[BinaryIO]:
        return self.inner.open_write(uri)

    def open_read(self, uri: str) -> BinaryIO:
        return self.inner.open_read(uri)

    def exists(self, uri: str) -> bool:
        return self.inner.exists(uri)

    def delete(self, uri: str) -> None:
        self.inner.delete(uri)


class MaterializerContract:
    """Behaviour tests for a materializer; subclasses provide the fixtures above."""

    #: ``(entry-point name, module path)`` of the plugins that register the materializer.
    plugins: ClassVar[list[tuple[str, str]]] = []

    @pytest.fixture
    def materializer(self) -> Materializer:
        raise NotImplementedError("subclasses of MaterializerContract provide `materializer`")

    @pytest.fixture
    def samples(self) -> list[Any]:
        raise NotImplementedError("subclasses of MaterializerContract provide `samples`")

    def assert_equal(self, expected: Any, actual: Any) -> None:
        """Override for types whose ``==`` is not a plain bool (arrays, frames, models)."""
        assert expected == actual

    # -- fixtures the suite builds ---------------------------------------------

    @pytest.fixture
    def registry(self) -> MaterializerRegistry:
        from flowy.kernel.plugins import create_plugin_manager

        plugins = [(name, importlib.import_module(module)) for name, module in self.plugins]
        manager = create_plugin_manager(entrypoints=False, plugins=plugins)
        return MaterializerRegistry(manager.registry)

    @pytest.fixture
    def store(self, tmp_path: Path) -> ArtifactStore:
        local = pytest.importorskip("flowy_store_sqlite.local_store")
        return local.LocalArtifactStore(str(tmp_path / "artifacts"))  # type: ignore[no-any-return]

    # -- helpers ---------------------------------------------------------------

    def opt_in(self, materializer: Materializer) -> bool:
        return not materializer.safe

    def write(
        self, store: ArtifactStore, registry: MaterializerRegistry, obj: Any, allow: bool, n: int
    ) -> ArtifactRef:
        return write_artifact(
            store, f"run/step/out{n}", f"out{n}", obj, registry, allow_pickle=allow
        )

    def write_each(
        self, materializer: Materializer, samples: list[Any], store: ArtifactStore,
        registry: MaterializerRegistry,
    ) -> Iterator[tuple[Any, ArtifactRef]]:  # fmt: skip
        """Write every sample (opted in to pickle when the materializer is unsafe)."""
        allow = self.opt_in(materializer)
        for n, sample in enumerate(samples):
            yield sample, self.write(store, registry, sample, allow, n)

    # -- the contract ----------------------------------------------------------

    def test_samples_are_given(self, samples: list[Any]) -> None:
        assert samples, "provide at least one sample"

    def test_round_trip(
        self, materializer: Materializer, samples: list[Any], store: ArtifactStore,
        registry: MaterializerRegistry,
    ) -> None:  # fmt: skip
        allow = self.opt_in(materializer)
        for sample, ref in self.write_each(materializer, samples, store, registry):
            assert ref.materializer == materializer.name
            assert ref.materializer_version == str(materializer.version)
            assert algorithm_of(ref.checksum) == "blake3" and ref.size > 0
            self.assert_equal(sample, read_artifact(store, ref, registry, allow_pickle=allow))

    def test_resolution_picks_it_for_each_sample(
        self, materializer: Materializer, samples: list[Any], registry: MaterializerRegistry
    ) -> None:
        allow = self.opt_in(materializer)
        for sample in samples:
            if not materializer.safe:
                with pytest.raises(MaterializerNotFoundError):
                    registry.resolve(sample)
            registration, chosen = registry.resolve(sample, allow_pickle=allow)
            assert registration.name == materializer.name, (
                f"{type_name(type(sample))} resolved to {registration.name!r}"
            )
            assert type(chosen) is type(materializer)

    def test_metadata_is_json_serializable(
        self, materializer: Materializer, samples: list[Any], store: ArtifactStore,
        registry: MaterializerRegistry,
    ) -> None:  # fmt: skip
        for _, ref in self.write_each(materializer, samples, store, registry):
            assert isinstance(ref.metadata, dict)
            assert json.loads(json.dumps(ref.metadata, allow_nan=False)) == ref.metadata

    def test_version_is_a_string_and_matches_the_registration(
        self, materializer: Materializer, registry: MaterializerRegistry
    ) -> None:
        assert isinstance(materializer.version, str) and materializer.version
        assert isinstance(materializer.safe, bool)
        registration = registry._registrations[materializer.name]
        registered = registration.info.get("materializer_version")
        if registered is not None:
            assert str(registered) == materializer.version

    def test_extension_is_used(
        self, materializer: Materializer, samples: list[Any], store: ArtifactStore,
        registry: MaterializerRegistry,
    ) -> None:  # fmt: skip
        ref = self.write(store, registry, samples[0], self.opt_in(materializer), 0)
        extension = registry._registrations[materializer.name].info.get(
            "extension", materializer.extension
        )
        assert ref.uri.endswith(extension)

    def test_extension_matches_the_registration(
        self, materializer: Materializer, registry: MaterializerRegistry
    ) -> None:
        """The file is named by the registration's ``extension``, the bytes by the class: a
        materializer registered as ``.csv`` that writes parquet gives files no tool opens."""
        registered = registry._registrations[materializer.name].info.get("extension")
        if registered is None:
            return  # the class's own extension is used
        assert registered == materializer.extension, (
            f"{type(materializer).__name__} declares extension {materializer.extension!r} but "
            f"is registered with extension={registered!r}: write the same in both (or leave "
            "extension out of register(), and the class's is used)"
        )

    @pytest.mark.parametrize("damage", ["flip", "truncate"])
    def test_changed_file_is_refused(
        self, materializer: Materializer, samples: list[Any], store: ArtifactStore,
        registry: MaterializerRegistry, damage: str,
    ) -> None:  # fmt: skip
        allow = self.opt_in(materializer)
        ref = self.write(store, registry, samples[0], allow, 0)
        with store.open_read(ref.uri) as f:
            data = bytearray(f.read())
        if damage == "flip":
            data[len(data) // 2] ^= 0xFF
        else:
            del data[len(data) // 2 :]
        with store.open_write(ref.uri) as f:
            f.write(bytes(data))
        with pytest.raises(ChecksumMismatchError):
            read_artifact(store, ref, registry, allow_pickle=allow)

    # -- both read paths --------------------------------------------------------

    def test_path_and_stream_reads_agree(
        self, materializer: Materializer, samples: list[Any], store: ArtifactStore,
        registry: MaterializerRegistry,
    ) -> None:  # fmt: skip
        """A materializer with ``load_path`` reads the same objects from a store that only
        streams (a remote store) as from one with local files (the local store)."""
        if not reads_paths(materializer):
            return  # load() is the only read path: test_round_trip covers it
        allow = self.opt_in(materializer)
        streamed = StreamOnlyStore(store)
        for sample, ref in self.write_each(materializer, samples, store, registry):
            self.assert_equal(sample, read_artifact(store, ref, registry, allow_pickle=allow))
            self.assert_equal(sample, read_artifact(streamed, ref, registry, allow_pickle=allow))

    def test_changed_file_is_refused_when_streamed(
        self, materializer: Materializer, samples: list[Any], store: ArtifactStore,
        registry: MaterializerRegistry,
    ) -> None:  # fmt: skip
        if not reads_paths(materializer):
            return  # test_changed_file_is_refused already streamed it
        allow = self.opt_in(materializer)
        ref = self.write(store, registry, samples[0], allow, 0)
        with store.open_read(ref.uri) as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF
        with store.open_write(ref.uri) as f:
            f.write(bytes(data))
        with pytest.raises(ChecksumMismatchError):
            read_artifact(StreamOnlyStore(store), ref, registry, allow_pickle=allow)

    def test_loading_needs_the_opt_in_exactly_when_unsafe(
        self, materializer: Materializer, samples: list[Any], store: ArtifactStore,
        registry: MaterializerRegistry,
    ) -> None:  # fmt: skip
        ref = self.write(store, registry, samples[0], not materializer.safe, 0)
        if materializer.safe:
            self.assert_equal(samples[0], read_artifact(store, ref, registry))
            return
        with pytest.raises(UnsafeArtifactError, match="allow_pickle"):
            read_artifact(store, ref, registry)

"""Artifact checksums on the local store: BLAKE3, legacy sha256, and both read paths.

A real store and real materializers: core's JSON one (streamed) and a bytes
materializer defined here that also implements ``load_path`` (the route a
Parquet reader takes on a store with local files).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import pytest
from blake3 import blake3
from flowy import hookimpl
from flowy.artifacts.checksums import OVERLAP_MIN, PIECE, Checksum, file_checksum, short
from flowy.artifacts.resolution import MaterializerRegistry
from flowy.artifacts.store_io import read_artifact, verify_artifact, write_artifact
from flowy.kernel.contracts import Materializer
from flowy.kernel.errors import ChecksumMismatchError
from flowy.kernel.plugins import create_plugin_manager
from flowy.testing.materializer import StreamOnlyStore
from flowy_store_sqlite.local_store import LocalArtifactStore


class BlobMaterializer(Materializer):
    """``bytearray`` values as raw bytes; reads local files directly when it can."""

    name = "blob"
    extension = ".bin"
    paths_read: list[str] = []  # which route was taken

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        file.write(obj)
        return {"length": len(obj)}

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        out = bytearray(metadata["length"])
        view = memoryview(out)
        filled = 0
        while filled < len(out):
            n = file.readinto(view[filled:])  # type: ignore[attr-defined]
            if not n:
                raise EOFError("truncated blob")
            filled += n
        return out

    def load_path(self, path: str, metadata: Mapping[str, Any]) -> Any:
        self.paths_read.append(path)
        with open(path, "rb") as file:
            return bytearray(file.read())


class ReplacingMaterializer(BlobMaterializer):
    """Replaces its file (same bytes, new file) while loading it, as a racing writer would."""

    name = "replacing"

    def load_path(self, path: str, metadata: Mapping[str, Any]) -> Any:
        with open(path, "rb") as file:
            data = file.read()
        with open(path + ".new", "wb") as file:
            file.write(data)
        os.replace(path + ".new", path)
        return bytearray(data)


class _Plugin:
    @hookimpl
    def flowy_register_materializers(self, register: Any) -> None:
        register("blob", f"{__name__}:BlobMaterializer", types=["builtins.bytearray"])
        register("replacing", f"{__name__}:ReplacingMaterializer", types=[])


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(str(tmp_path / "artifacts"))


@pytest.fixture
def registry() -> MaterializerRegistry:
    manager = create_plugin_manager(entrypoints=False, plugins=[("checksum-tests", _Plugin())])
    return MaterializerRegistry(manager.registry)


def damage(path: str, at: int) -> None:
    data = bytearray(Path(path).read_bytes())
    data[at] ^= 0xFF
    Path(path).write_bytes(bytes(data))


def test_new_checksums_are_blake3_of_the_stored_bytes(store, registry) -> None:
    ref = write_artifact(store, "run/step/out", "out", {"a": [1, 2]}, registry)
    stored = Path(ref.uri).read_bytes()
    assert ref.checksum == "blake3:" + blake3(stored).hexdigest()
    assert ref.size == len(stored)
    assert file_checksum(ref.uri) == ref.checksum
    assert short(ref.checksum) == ref.checksum[: len("blake3:") + 12]
    assert verify_artifact(store, ref)


@pytest.mark.parametrize("size", [10, OVERLAP_MIN + 1, 2 * PIECE + 12345])
@pytest.mark.parametrize("route", ["local file", "stream"])
def test_blake3_round_trip_and_damage_on_both_routes(store, registry, size, route) -> None:
    """Large writes and reads hash on a helper thread; the result must be the same."""
    value = bytearray(os.urandom(size))
    ref = write_artifact(store, "run/step/blob", "blob", value, registry)
    assert ref.checksum == "blake3:" + blake3(value).hexdigest()
    reader = store if route == "local file" else StreamOnlyStore(store)
    BlobMaterializer.paths_read.clear()
    assert read_artifact(reader, ref, registry) == value
    assert BlobMaterializer.paths_read == ([ref.uri] if route == "local file" else [])
    damage(ref.uri, size - 1)
    with pytest.raises(ChecksumMismatchError, match=r"corrupted: its blake3 checksum is"):
        read_artifact(reader, ref, registry)
    assert not verify_artifact(reader, ref)


@pytest.mark.parametrize("route", ["local file", "stream"])
def test_legacy_sha256_checksums_still_verify(store, registry, route) -> None:
    """Artifacts recorded before BLAKE3 carry a bare sha256 hex digest."""
    value = bytearray(os.urandom(3 * PIECE))
    ref = write_artifact(store, "run/step/old", "old", value, registry)
    legacy = attrs.evolve(ref, checksum=hashlib.sha256(value).hexdigest())
    reader = store if route == "local file" else StreamOnlyStore(store)
    assert read_artifact(reader, legacy, registry) == value
    assert verify_artifact(reader, legacy)
    assert file_checksum(ref.uri, legacy.checksum) == legacy.checksum
    damage(ref.uri, 5)
    with pytest.raises(ChecksumMismatchError, match=r"its sha256 checksum is [0-9a-f]{12}\.\.\."):
        read_artifact(reader, legacy, registry)
    assert not verify_artifact(reader, legacy)


def test_legacy_json_artifact_streams_and_verifies(store, registry) -> None:
    ref = write_artifact(store, "run/step/cfg", "cfg", {"lr": 0.1}, registry)
    legacy = attrs.evolve(ref, checksum=hashlib.sha256(Path(ref.uri).read_bytes()).hexdigest())
    assert read_artifact(store, legacy, registry) == {"lr": 0.1}
    assert verify_artifact(store, legacy)


@pytest.mark.parametrize("checksum", ["md5:abc", "blake3:" + "0" * 63, "X" * 64, ""])
def test_an_unknown_checksum_format_is_a_clear_error(store, registry, checksum) -> None:
    ref = write_artifact(store, "run/step/blob", "blob", bytearray(b"abc"), registry)
    bad = attrs.evolve(ref, checksum=checksum)
    for reader in (store, StreamOnlyStore(store)):
        with pytest.raises(ChecksumMismatchError, match="cannot be verified.*not an artifact"):
            read_artifact(reader, bad, registry)
        assert not verify_artifact(reader, bad)
    with pytest.raises(ValueError, match="expected 'blake3:' and 64 hex digits"):
        Checksum(checksum)


def test_a_file_replaced_while_it_loads_is_refused(store, registry) -> None:
    value = bytearray(os.urandom(OVERLAP_MIN + 1))
    ref = write_artifact(store, "run/step/blob", "blob", value, registry)
    racing = attrs.evolve(ref, materializer="replacing")
    with pytest.raises(ChecksumMismatchError, match="replaced or changed while it was being"):
        read_artifact(store, racing, registry)
    assert read_artifact(store, ref, registry) == value  # the same bytes, read undisturbed


def test_missing_artifact_is_not_verified(store, registry) -> None:
    ref = write_artifact(store, "run/step/blob", "blob", bytearray(b"abc"), registry)
    store.delete(ref.uri)
    assert not verify_artifact(store, ref)
    assert not verify_artifact(StreamOnlyStore(store), ref)


def test_checksum_pieces_hash_in_order() -> None:
    data = os.urandom(5 * PIECE + 7)
    view = memoryview(data)
    checksum = Checksum()
    try:
        for start in range(0, len(data), PIECE + 3):
            checksum.submit(view[start : start + PIECE + 3])
        checksum.update(b"tail")
        assert checksum.value() == "blake3:" + blake3(data + b"tail").hexdigest()
    finally:
        checksum.close()

"""The artifact-store contract suite on the azure_blob store, against Azurite."""

from __future__ import annotations

import os
from typing import Any

import pytest
from flowy.testing.artifact_store import ArtifactStoreContract
from flowy_azure.blob_store import AzureBlobArtifactStore

pytestmark = pytest.mark.slow  # starts Azurite (Node.js)


class TestAzureBlobArtifactStore(ArtifactStoreContract):
    """Every contract test, with the store's small-block test options."""

    @pytest.fixture
    def store(self, store_options: dict[str, Any]) -> AzureBlobArtifactStore:
        return AzureBlobArtifactStore(**store_options)


class TestAzureBlobArtifactStoreNoPrefixOneBlockAtATime(ArtifactStoreContract):
    """Blobs at the container root, one block in flight at a time, every write in blocks."""

    @pytest.fixture
    def store(self, store_options: dict[str, Any]) -> AzureBlobArtifactStore:
        return AzureBlobArtifactStore(
            **{**store_options, "prefix": "", "concurrency": 1, "single_put_threshold": 1}
        )


def test_large_artifact_round_trips_in_blocks(
    store: AzureBlobArtifactStore, blob_service: Any
) -> None:
    """7.5 MiB in 256 KiB writes: eight 1 MiB blocks staged concurrently, read back in ranges."""
    data = os.urandom(7 * 1024 * 1024 + 512 * 1024)
    uri = store.uri_for("run/step/big.bin")
    with store.open_write(uri) as f:
        for i in range(0, len(data), 256 * 1024):
            f.write(data[i : i + 256 * 1024])
    blob = blob_service.get_blob_client(store.container, "artifacts/run/step/big.bin")
    committed, uncommitted = blob.get_block_list("all")
    assert len(committed) == 8 and uncommitted == []
    assert blob.get_blob_properties().size == len(data)
    assert store.read_bytes(uri) == data


def test_small_artifact_is_one_put(store: AzureBlobArtifactStore, blob_service: Any) -> None:
    uri = store.uri_for("run/step/small.json")
    store.write_bytes(uri, b"{}")
    blob = blob_service.get_blob_client(store.container, "artifacts/run/step/small.json")
    committed, _ = blob.get_block_list("all")
    assert committed == []  # Put Blob, not a block list
    assert store.read_bytes(uri) == b"{}"


def test_writer_memory_is_bounded(store: AzureBlobArtifactStore) -> None:
    """The writer never buffers much more than the threshold: large artifacts stream."""
    uri = store.uri_for("run/step/stream.bin")
    peak = 0
    with store.open_write(uri) as f:
        for _ in range(16):
            f.write(b"\0" * (1 << 20))
            peak = max(peak, len(f._buffer))  # type: ignore[attr-defined]
    assert peak <= store.options.single_put_threshold


def test_failed_large_write_commits_nothing(
    store: AzureBlobArtifactStore, uncommitted: Any
) -> None:
    uri = store.uri_for("run/step/aborted.bin")
    with pytest.raises(KeyError), store.open_write(uri) as f:
        f.write(os.urandom(6 * 1024 * 1024))
        raise KeyError("materializer failed")
    assert not store.exists(uri)
    assert list(store.list_objects()) == []
    # The staged blocks are invisible; Azure discards them (after a week, or at a commit).
    assert uncommitted(store.container) == ["artifacts/run/step/aborted.bin"]


def test_overwrite_mid_read_is_an_error_not_a_mix(store: AzureBlobArtifactStore) -> None:
    from flowy.kernel.errors import FlowyError

    uri = store.uri_for("run/step/changing.bin")
    store.write_bytes(uri, os.urandom(6 * 1024 * 1024))
    reader = store.open_read(uri)
    try:
        first = reader.read(1024)
        assert len(first) == 1024
        store.write_bytes(uri, os.urandom(6 * 1024 * 1024))
        with pytest.raises(FlowyError, match="overwritten while being read"):
            reader.read()
    finally:
        reader.close()


def test_full_artifact_round_trip_through_core(store: AzureBlobArtifactStore) -> None:
    """write_artifact/read_artifact (checksum while streaming, verified on read) on Azurite."""
    import numpy as np
    from flowy.artifacts.resolution import MaterializerRegistry
    from flowy.artifacts.store_io import read_artifact, write_artifact
    from flowy.kernel.errors import ChecksumMismatchError
    from flowy.kernel.plugins import create_plugin_manager
    from flowy_materializers import plugin as mat_plugin

    registry = MaterializerRegistry(
        create_plugin_manager(
            entrypoints=False, plugins=[("flowy-materializers", mat_plugin)]
        ).registry
    )
    array = np.arange(1_000_000, dtype="float64")  # 8 MB: blocks
    ref = write_artifact(store, "run/step/arr", "arr", array, registry)
    assert ref.uri.startswith(f"az://{store.container}/artifacts/run/step/arr")
    assert np.array_equal(read_artifact(store, ref, registry), array)
    store.write_bytes(ref.uri, b"tampered")
    with pytest.raises(ChecksumMismatchError):
        read_artifact(store, ref, registry)


def test_list_objects_sees_committed_blobs_under_the_prefix(
    store: AzureBlobArtifactStore, blob_service: Any
) -> None:
    blob_service.get_blob_client(store.container, "elsewhere/x").upload_blob(b"not ours")
    store.write_bytes(store.uri_for("r/s/a"), b"a")
    store.write_bytes(store.uri_for("r/s/b"), b"bb")
    listed = {o.uri: o.size for o in store.list_objects()}
    assert listed == {store.uri_for("r/s/a"): 1, store.uri_for("r/s/b"): 2}
    assert all(o.modified > 0 for o in store.list_objects())
    assert store.holds_artifacts()


def test_the_adlfs_filesystem_reads_what_the_store_wrote(store: AzureBlobArtifactStore) -> None:
    """URIs are adlfs's: ``fs.cat`` (and so fsspec and pandas) read them as they are."""
    uri = store.uri_for("r/s/shared.txt")
    store.write_bytes(uri, b"one format")
    assert store.fs.cat(uri) == b"one format"
    assert store.fs.ls(uri.rsplit("/", 1)[0], detail=False) == [uri[len("az://") :]]


def test_uris_outside_the_container_are_refused(store: AzureBlobArtifactStore) -> None:
    for bad in ("az://other-container/x", "/local/path", f"az://{store.container}/a/../b"):
        with pytest.raises(ValueError):
            store.open_read(bad)


def test_describe_names_the_credential_source_not_the_secret(
    store: AzureBlobArtifactStore, azurite: Any
) -> None:
    facts = store.describe()
    assert facts["container"] == store.container and facts["prefix"] == "artifacts"
    assert facts["auth_source"] == "AZURE_STORAGE_ACCOUNT_KEY"
    assert facts["url"] == f"az://{store.container}/artifacts"
    assert azurite.key not in repr(facts)

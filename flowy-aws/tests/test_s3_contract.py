"""The artifact-store contract suite on the s3 store, against moto's server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flowy.testing.artifact_store import ArtifactStoreContract
from flowy_aws.s3_store import S3ArtifactStore


class TestS3ArtifactStore(ArtifactStoreContract):
    """Every contract test, then: S3 holds no multipart upload afterwards."""

    @pytest.fixture
    def store(
        self, store_options: dict[str, Any], dangling_uploads: Any
    ) -> Iterator[S3ArtifactStore]:
        store = S3ArtifactStore(**store_options)
        yield store
        assert dangling_uploads(store.bucket) == []


class TestS3ArtifactStoreEncryptedNoPrefix(ArtifactStoreContract):
    """SSE-S3 on every object, keys at the bucket root, one part in flight at a time."""

    @pytest.fixture
    def store(
        self, store_options: dict[str, Any], dangling_uploads: Any
    ) -> Iterator[S3ArtifactStore]:
        store = S3ArtifactStore(
            **{**store_options, "prefix": "", "sse": "AES256", "concurrency": 1}
        )
        yield store
        assert dangling_uploads(store.bucket) == []


def test_large_artifact_round_trips_in_parts(
    store: S3ArtifactStore, s3_client: Any, dangling_uploads: Any
) -> None:
    """23 MiB in 1 MiB writes: five parts uploaded concurrently, read back in ranges."""
    data = os.urandom(23 * 1024 * 1024)
    uri = store.uri_for("run/step/big.bin")
    with store.open_write(uri) as f:
        for i in range(0, len(data), 1 << 20):
            f.write(data[i : i + (1 << 20)])
    head = s3_client.head_object(Bucket=store.bucket, Key="artifacts/run/step/big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-5")  # a multipart object of five parts
    assert store.read_bytes(uri) == data
    assert dangling_uploads(store.bucket) == []


def test_writer_memory_is_bounded(store: S3ArtifactStore) -> None:
    """The writer never buffers more than one chunk: large artifacts stream."""
    uri = store.uri_for("run/step/stream.bin")
    peak = 0
    with store.open_write(uri) as f:
        for _ in range(16):
            f.write(b"\0" * (1 << 20))
            peak = max(peak, len(f._buffer))  # type: ignore[attr-defined]
    assert peak <= store.options.chunk_size


def test_failed_large_write_aborts_upload(store: S3ArtifactStore, dangling_uploads: Any) -> None:
    uri = store.uri_for("run/step/aborted.bin")
    with pytest.raises(KeyError), store.open_write(uri) as f:
        f.write(os.urandom(12 * 1024 * 1024))
        raise KeyError("materializer failed")
    assert not store.exists(uri)
    assert dangling_uploads(store.bucket) == []


def test_full_artifact_round_trip_through_core(store: S3ArtifactStore) -> None:
    """write_artifact/read_artifact (checksum while streaming, verified on read) on S3."""
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
    array = np.arange(2_000_000, dtype="float64")  # 16 MB: multipart
    ref = write_artifact(store, "run/step/arr", "arr", array, registry)
    assert ref.uri.startswith(f"s3://{store.bucket}/artifacts/run/step/arr")
    assert np.array_equal(read_artifact(store, ref, registry), array)
    store.write_bytes(ref.uri, b"tampered")
    with pytest.raises(ChecksumMismatchError):
        read_artifact(store, ref, registry)


def test_uris_outside_the_bucket_are_refused(store: S3ArtifactStore) -> None:
    for bad in ("s3://other-bucket/x", "/local/path", f"s3://{store.bucket}/a/../b"):
        with pytest.raises(ValueError):
            store.open_read(bad)


def test_describe(store: S3ArtifactStore) -> None:
    assert store.describe()["bucket"] == store.bucket
    assert store.describe()["prefix"] == "artifacts"

"""The artifact-store contract suite on the gcs store, against gcp-storage-emulator."""

from __future__ import annotations

import os
from typing import Any

import pytest
from flowy.testing.artifact_store import ArtifactStoreContract
from flowy_gcp.gcs_store import GcsArtifactStore

pytestmark = pytest.mark.slow


class TestGcsArtifactStore(ArtifactStoreContract):
    """Every contract test, with 1 MiB upload pieces so large artifacts go up resumably."""

    @pytest.fixture
    def store(self, store_options: dict[str, Any]) -> GcsArtifactStore:
        return GcsArtifactStore(**store_options)


class TestGcsArtifactStoreNoPrefix(ArtifactStoreContract):
    """Objects at the bucket root, the default 16 MiB pieces (one-shot uploads)."""

    @pytest.fixture
    def store(self, store_options: dict[str, Any]) -> GcsArtifactStore:
        options = {k: v for k, v in store_options.items() if k != "chunk_size"}
        return GcsArtifactStore(**{**options, "prefix": ""})


def test_large_artifact_goes_up_in_pieces_and_reads_back(
    store: GcsArtifactStore, raw_fs: Any
) -> None:
    """5.5 MiB in 64 KiB writes with 1 MiB pieces: a resumable upload, whole at the end."""
    data = os.urandom(5 * 1024 * 1024 + 512 * 1024)
    uri = store.uri_for("run/step/big.bin")
    with store.open_write(uri) as f:
        for i in range(0, len(data), 1 << 16):
            f.write(data[i : i + (1 << 16)])
            if i == 3 << 20:  # pieces are up, the object is not there yet
                assert f._f.location is not None  # type: ignore[attr-defined]
                assert not store.exists(uri)
    assert raw_fs.info(f"{store.bucket}/artifacts/run/step/big.bin")["size"] == len(data)
    assert store.read_bytes(uri) == data


def test_failed_large_write_leaves_no_object(store: GcsArtifactStore, raw_fs: Any) -> None:
    uri = store.uri_for("run/step/aborted.bin")
    with pytest.raises(KeyError), store.open_write(uri) as f:
        f.write(os.urandom(3 * 1024 * 1024))
        raise KeyError("materializer failed")
    assert not store.exists(uri)
    assert raw_fs.find(store.bucket) == []


def test_full_artifact_round_trip_through_core(store: GcsArtifactStore) -> None:
    """write_artifact/read_artifact (checksum while streaming, verified on read) on GCS."""
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
    array = np.arange(500_000, dtype="float64")  # 4 MB: four pieces
    ref = write_artifact(store, "run/step/arr", "arr", array, registry)
    assert ref.uri.startswith(f"gs://{store.bucket}/artifacts/run/step/arr")
    assert np.array_equal(read_artifact(store, ref, registry), array)
    store.write_bytes(ref.uri, b"tampered")
    with pytest.raises(ChecksumMismatchError):
        read_artifact(store, ref, registry)


def test_uris_outside_the_bucket_are_refused(store: GcsArtifactStore) -> None:
    for bad in ("gs://other-bucket/x", "/local/path", f"gs://{store.bucket}/a/../b", "s3://b/x"):
        with pytest.raises(ValueError):
            store.open_read(bad)


def test_listing_and_describe(store: GcsArtifactStore) -> None:
    a, b = store.uri_for("r/s/a"), store.uri_for("r/s/b")
    store.write_bytes(a, b"aa")
    store.write_bytes(b, b"bbb")
    listed = {o.uri: o.size for o in store.list_objects()}
    assert listed == {a: 2, b: 3}
    assert all(o.modified > 0 for o in store.list_objects())
    assert store.holds_artifacts()
    assert store.describe()["bucket"] == store.bucket
    assert store.describe()["prefix"] == "artifacts"


def test_the_example_pipeline_on_local_worker_processes_with_artifacts_in_gcs(
    project: Any, gcp_plugins: Any, store_options: dict[str, Any]
) -> None:
    """Forked workers build their own gcsfs client (a client does not survive a fork)."""
    from pathlib import Path

    import tomli_w
    from flowy.run.engine import run_pipeline
    from flowy.run.loader import load_module

    stacks = project / ".flowy" / "stacks"
    stacks.mkdir(exist_ok=True)
    (stacks / "gcsonly.toml").write_text(
        tomli_w.dumps(
            {
                "executor": {"type": "local", "max_workers": 2},
                "metadata_store": {"type": "sqlite", "url": f"sqlite:///{project}/.flowy/m.db"},
                "artifact_store": {"type": "gcs", **store_options},
            }
        )
    )
    example = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "pipeline.py"
    module = load_module(example)
    result = run_pipeline(module.pipeline, stack="gcsonly", plugins=gcp_plugins, project=project)
    assert result.status == "completed", {k: v.error for k, v in result.steps.items()}
    assert all(ref.uri.startswith("gs://") for ref in result.artifacts.values())
    assert result["evaluate"]["r2"] > 0.9

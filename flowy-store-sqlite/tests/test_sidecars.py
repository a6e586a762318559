"""Sidecars on the local store: written with every artifact, before it becomes visible.

Real files: an artifact written through ``write_artifact`` (and a logged file
through ``write_file_artifact``) has a ``.<name>.flowy.json`` beside it that
describes it, and the sidecar is complete before the artifact's rename, so no
complete artifact is ever without one. Also the local store's listing:
temporary names recognised, symbolic links never reported.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import attrs
from flowy.artifacts.file_materializer import write_file_artifact
from flowy.artifacts.resolution import MaterializerRegistry
from flowy.artifacts.sidecars import artifact_of, is_sidecar, read_sidecar, sidecar_uri
from flowy.artifacts.store_io import write_artifact
from flowy.kernel.plugins import create_plugin_manager
from flowy.kernel.records import ArtifactRef, ComponentSpec, StepRef, StepTask
from flowy_store_sqlite.local_store import LocalArtifactStore


def registry() -> MaterializerRegistry:
    return MaterializerRegistry(create_plugin_manager(entrypoints=False).registry)


def task(inputs: dict[str, ArtifactRef] | None = None) -> StepTask:
    return StepTask(
        run_id="r" * 32,
        pipeline="train",
        step="fit",
        step_ref=StepRef("m", "fit"),
        code_hash="c0de",
        params={},
        inputs=inputs or {},
        outputs=["model"],
        artifact_store=ComponentSpec("artifact_store", "local", {}),
    )


class OrderedStore(LocalArtifactStore):
    """The local store, noting which URIs became visible and which existed at that moment."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.visible: list[tuple[str, bool]] = []

    @contextlib.contextmanager
    def _commit_noted(self, uri: str) -> Iterator[BinaryIO]:
        with super().open_write(uri) as file:
            yield file
            self.visible.append((uri, os.path.exists(sidecar_uri(uri))))

    def open_write(self, uri: str) -> contextlib.AbstractContextManager[BinaryIO]:
        return self._commit_noted(uri)


def test_every_artifact_gets_a_sidecar_before_it_is_visible(tmp_path: Path) -> None:
    store = OrderedStore(str(tmp_path / "store"))
    upstream = write_artifact(store, "r/prep/data", "data", [1, 2], registry(), origin=task())
    ref = write_artifact(
        store, "r/fit/model", "model", {"w": [1.5]}, registry(), origin=task({"data": upstream})
    )
    # The artifact's own write ends with its sidecar already in place.
    assert (ref.uri, True) in store.visible and (upstream.uri, True) in store.visible
    car = read_sidecar(store, sidecar_uri(ref.uri))
    assert (car.run_id, car.pipeline, car.step, car.name) == ("r" * 32, "train", "fit", "model")
    assert (car.checksum, car.size, car.materializer) == (ref.checksum, ref.size, ref.materializer)
    assert car.materializer_version == ref.materializer_version
    assert car.type_name == ref.type_name and car.metadata == ref.metadata
    assert car.inputs == {"data": upstream.uri}
    assert car.to_ref(ref.uri, "id1") == attrs.evolve(ref, artifact_id="id1")


def test_logged_files_get_a_sidecar(tmp_path: Path) -> None:
    store = LocalArtifactStore(str(tmp_path / "store"))
    source = tmp_path / "plot.png"
    source.write_bytes(b"\x89PNG...")
    ref = write_file_artifact(store, "r/fit/logged/plot", "plot", source, origin=task())
    car = read_sidecar(store, sidecar_uri(ref.uri))
    assert (car.name, car.materializer, car.size) == ("plot", "file", 7)


def test_sidecar_names_round_trip() -> None:
    for uri in ("/root/r/s/out.json", "s3://bucket/pre/r/s/out.npy", "C:\\store\\r\\s\\x"):
        side = sidecar_uri(uri)
        assert is_sidecar(side) and not is_sidecar(uri)
        assert artifact_of(side) == uri
    assert sidecar_uri("/root/r/s/out.json") == "/root/r/s/.out.json.flowy.json"


def test_listing_reports_files_not_links_and_knows_temporary_names(tmp_path: Path) -> None:
    store = LocalArtifactStore(str(tmp_path / "store"))
    ref = write_artifact(store, "r/fit/model", "model", {"w": 1}, registry())
    debris = Path(store.root) / "r" / "fit" / ".model.json.tmp-0123456789ab"
    debris.write_bytes(b"half")
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    (Path(store.root) / "link.txt").symlink_to(outside)
    listed = {o.uri: o.size for o in store.list_objects()}
    assert set(listed) == {ref.uri, sidecar_uri(ref.uri), str(debris)}
    assert listed[str(debris)] == 4
    assert store.is_temporary(str(debris)) and not store.is_temporary(ref.uri)
    assert store.holds_artifacts()
    empty = LocalArtifactStore(str(tmp_path / "empty"))
    (Path(empty.root) / ".x.tmp-0123456789ab").write_bytes(b"")
    assert not empty.holds_artifacts()  # temporary debris alone is no history

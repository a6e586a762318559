"""A symbolic link inside the local artifact store is never followed out of it.

Issue #11 item 9: URIs were checked with ``normpath``, so a link planted in the
artifact folder (a folder or a file pointing elsewhere) was followed: Flowy
read, and wrote, files outside the store. Every path is now resolved with
``realpath`` and refused unless it stays under the root. Real stores, real
files, real links; nothing outside may be read, written or deleted.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flowy.artifacts.resolution import MaterializerRegistry
from flowy.artifacts.store_io import read_artifact, verify_artifact, write_artifact
from flowy.kernel.errors import ArtifactPathError
from flowy.kernel.plugins import create_plugin_manager
from flowy_store_sqlite.local_store import LocalArtifactStore

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(str(tmp_path / "artifacts"))


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the store holding one secret file; nothing else may appear in it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.json").write_text('"secret"')
    return folder


@pytest.fixture
def registry() -> MaterializerRegistry:
    return MaterializerRegistry(create_plugin_manager(entrypoints=False).registry)


def untouched(outside: Path) -> bool:
    return [p.name for p in outside.iterdir()] == ["secret.json"] and (
        (outside / "secret.json").read_text() == '"secret"'
    )


def test_reading_through_a_folder_link_is_refused(store, outside) -> None:
    os.makedirs(os.path.join(store.root, "run"))
    os.symlink(outside, os.path.join(store.root, "run", "step"))
    uri = os.path.join(store.root, "run", "step", "secret.json")
    for read in (store.open_read, store.local_path, store.exists):
        with pytest.raises(ArtifactPathError, match="outside the artifact store"):
            read(uri)
    with pytest.raises(ArtifactPathError):
        store.uri_for("run/step/secret.json")
    assert untouched(outside)


def test_reading_a_file_link_is_refused(store, outside) -> None:
    os.symlink(outside / "secret.json", os.path.join(store.root, "planted.json"))
    with pytest.raises(ArtifactPathError, match="through a symbolic link"):
        store.open_read(os.path.join(store.root, "planted.json"))
    with pytest.raises(ArtifactPathError):
        store.local_path("file://" + os.path.join(store.root, "planted.json"))


def test_writing_through_a_folder_link_is_refused_and_writes_nothing_outside(
    store, outside, registry
) -> None:
    os.symlink(outside, os.path.join(store.root, "run"))
    with pytest.raises(ArtifactPathError):
        write_artifact(store, "run/step/out", "out", {"a": 1}, registry)
    with pytest.raises(ArtifactPathError):
        store.open_write(os.path.join(store.root, "run", "new.json"))
    assert untouched(outside)


def test_writing_over_a_file_link_is_refused_and_leaves_its_target(store, outside) -> None:
    link = os.path.join(store.root, "planted.json")
    os.symlink(outside / "secret.json", link)
    with pytest.raises(ArtifactPathError), store.open_write(link) as f:
        f.write(b'"overwritten"')
    assert untouched(outside) and os.path.islink(link)


def test_deleting_removes_a_link_itself_never_what_it_points_to(store, outside) -> None:
    link = os.path.join(store.root, "planted.json")
    os.symlink(outside / "secret.json", link)
    store.delete(link)
    assert not os.path.lexists(link) and untouched(outside)
    os.symlink(outside, os.path.join(store.root, "run"))
    with pytest.raises(ArtifactPathError):
        store.delete(os.path.join(store.root, "run", "secret.json"))
    assert untouched(outside)


def test_an_artifact_swapped_for_a_link_to_an_identical_copy_is_not_loaded(
    store, outside, registry
) -> None:
    """Same bytes outside, so the checksum would pass: only the path check stops it."""
    ref = write_artifact(store, "run/step/out", "out", {"a": 1}, registry)
    copy = outside / "copy.json"
    copy.write_bytes(Path(ref.uri).read_bytes())
    os.unlink(ref.uri)
    os.symlink(copy, ref.uri)
    with pytest.raises(ArtifactPathError, match="outside the artifact store"):
        read_artifact(store, ref, registry)
    assert not verify_artifact(store, ref)


def test_links_that_stay_inside_the_store_still_work(store, registry) -> None:
    ref = write_artifact(store, "run/step/out", "out", {"a": 1}, registry)
    os.symlink(os.path.join(store.root, "run"), os.path.join(store.root, "alias"))
    aliased = os.path.join(store.root, "alias", "step", os.path.basename(ref.uri))
    with store.open_read(aliased) as f:
        assert f.read() == Path(ref.uri).read_bytes()
    assert read_artifact(store, ref, registry) == {"a": 1}

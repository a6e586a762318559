"""The local artifact store beyond the contract: paths, containment, fsspec."""

from __future__ import annotations

import os
from pathlib import Path

import pydantic
import pytest
from flowy_store_sqlite.local_store import LocalArtifactStore


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(str(tmp_path / "artifacts"))


def test_uris_are_absolute_paths_under_root(store: LocalArtifactStore, tmp_path: Path) -> None:
    uri = store.uri_for("run/step/model.npy")
    assert uri == str((tmp_path / "artifacts" / "run" / "step" / "model.npy").resolve())
    assert store.describe() == {"path": str((tmp_path / "artifacts").resolve())}
    assert store.uri_for("/run/x") == store.uri_for("run/x")


@pytest.mark.parametrize(
    "bad",
    [
        "../escape",
        "run/../../escape",
        "run/..",
        "/etc/passwd",
        "file:///etc/passwd",
        "run/\x00/x",
        "..\\escape",
    ],
)
def test_path_traversal_is_refused(store: LocalArtifactStore, bad: str) -> None:
    # uri_for takes store-relative keys, so a leading "/" there is simply dropped.
    key_ops = () if bad == "/etc/passwd" else (store.uri_for,)
    for operation in (
        *key_ops,
        store.open_read,
        store.exists,
        store.delete,
        store.open_write,
    ):
        with pytest.raises(ValueError) as info:
            operation(bad)
        assert repr(bad) in str(info.value)


def test_sibling_folder_with_common_prefix_is_refused(tmp_path: Path) -> None:
    store = LocalArtifactStore(str(tmp_path / "art"))
    (tmp_path / "art2").mkdir()
    with pytest.raises(ValueError):
        store.open_write(str(tmp_path / "art2" / "x"))


def test_file_uri_form_is_accepted(store: LocalArtifactStore) -> None:
    uri = store.uri_for("r/s/o")
    with store.open_write("file://" + uri) as f:
        f.write(b"ok")
    assert store.exists(uri)


def test_temporary_file_is_hidden_in_the_same_folder(store: LocalArtifactStore) -> None:
    uri = store.uri_for("r/s/out.bin")
    with store.open_write(uri) as f:
        names = os.listdir(os.path.dirname(uri))
        assert len(names) == 1
        assert names[0].startswith(".out.bin.tmp-")
        f.write(b"x")
    assert os.listdir(os.path.dirname(uri)) == ["out.bin"]


def test_fs_is_an_fsspec_filesystem_over_the_same_files(store: LocalArtifactStore) -> None:
    uri = store.uri_for("r/s/o")
    with store.open_write(uri) as f:
        f.write(b"hello")
    assert store.fs.cat_file(uri) == b"hello"


def test_options_model() -> None:
    options = LocalArtifactStore.Options(path="/x")
    assert options.fsync is False
    with pytest.raises(pydantic.ValidationError, match="colour"):
        LocalArtifactStore.Options(path="/x", colour="blue")

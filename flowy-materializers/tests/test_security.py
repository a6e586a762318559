"""Planted payloads that would create a marker file if loading ran their code.

Each is stored with a correct checksum (an attacker who can write the store
can also write its checksums), so only the materializer stands between the
file and code execution. By default each is refused, the marker stays
absent, and the message names the opt-in.
"""

from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path
from typing import Any

import pytest
from flowy.artifacts.checksums import checksum_bytes
from flowy.artifacts.resolution import MaterializerRegistry
from flowy.artifacts.store_io import read_artifact
from flowy.kernel.errors import FlowyError, MaterializerNotFoundError, UnsafeArtifactError
from flowy.kernel.plugins import create_plugin_manager
from flowy.kernel.records import ArtifactRef


@pytest.fixture
def registry() -> MaterializerRegistry:
    plugin = importlib.import_module("flowy_materializers.plugin")
    manager = create_plugin_manager(entrypoints=False, plugins=[("flowy-materializers", plugin)])
    return MaterializerRegistry(manager.registry)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    from flowy_store_sqlite.local_store import LocalArtifactStore

    return LocalArtifactStore(str(tmp_path / "artifacts"))


def plant(store: Any, materializer: str, data: bytes, metadata: dict[str, Any] | None = None):
    uri = store.uri_for(f"run/step/planted-{materializer}")
    with store.open_write(uri) as f:
        f.write(data)
    return ArtifactRef(
        name="planted",
        uri=uri,
        checksum=checksum_bytes(data),
        size=len(data),
        materializer=materializer,
        materializer_version="1",
        type_name="?",
        metadata=metadata or {},
    )


def test_npy_with_an_object_array_is_refused(store, registry, marker):
    import fm_payloads
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.array([fm_payloads.PickleBomb()], dtype=object), allow_pickle=True)
    ref = plant(store, "numpy", buffer.getvalue())
    with pytest.raises(UnsafeArtifactError, match="allow_pickle") as info:
        read_artifact(store, ref, registry)
    assert "object-dtype" in str(info.value)
    assert not marker.exists()
    # The payload is real: under the opt-in it runs (that is what the opt-in means).
    read_artifact(store, ref, registry, allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("extension", [".pkl", ".pt"])
def test_pickle_artifact_needs_the_opt_in(store, registry, marker, extension):
    import fm_payloads

    ref = plant(store, "pickle", pickle.dumps(fm_payloads.PickleBomb()), {"unsafe": True})
    with pytest.raises(UnsafeArtifactError, match="allow_pickle"):
        read_artifact(store, ref, registry)
    assert not marker.exists()


@pytest.mark.slow
def test_torch_save_file_planted_as_a_tensor_is_refused(store, registry, marker):
    import fm_payloads
    import torch

    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2), "payload": fm_payloads.PickleBomb()}, buffer)
    ref = plant(store, "torch", buffer.getvalue(), {"kind": "dict"})
    with pytest.raises(FlowyError, match="allow_pickle") as info:
        read_artifact(store, ref, registry)
    assert "torch.save" in str(info.value)
    assert not marker.exists()


def test_skops_file_with_an_untrusted_type_is_refused(store, registry, marker, monkeypatch):
    import fm_payloads
    import skops.io as sio
    from flowy_materializers import sklearn_materializer
    from sklearn.preprocessing import FunctionTransformer

    estimator = FunctionTransformer(kw_args={"payload": fm_payloads.SetStateBomb()})
    ref = plant(store, "sklearn", sio.dumps(estimator))
    with pytest.raises(UnsafeArtifactError, match="allow_pickle") as info:
        read_artifact(store, ref, registry)
    assert "fm_payloads.SetStateBomb" in str(info.value)
    assert "trust_types" in str(info.value) and "FLOWY_SKOPS_TRUSTED" in str(info.value)
    assert not marker.exists()
    # Trusting that one type (here through the environment) is the narrow opt-in.
    monkeypatch.setenv("FLOWY_SKOPS_TRUSTED", "fm_payloads.SetStateBomb")
    read_artifact(store, ref, registry)
    assert marker.exists()
    assert "fm_payloads.SetStateBomb" not in sklearn_materializer.TRUSTED_TYPES


def test_trust_types_extends_the_list_for_this_process(monkeypatch):
    from flowy_materializers import sklearn_materializer

    monkeypatch.setattr(sklearn_materializer, "_extra_trusted", set())
    assert "mypkg.Thing" not in sklearn_materializer.trusted_types()
    sklearn_materializer.trust_types("mypkg.Thing")
    assert "mypkg.Thing" in sklearn_materializer.trusted_types()


@pytest.mark.slow
def test_keras_file_with_a_lambda_layer_is_refused(store, registry, marker, tmp_path):
    import os

    import keras

    # A real lambda: Keras stores its bytecode, which would run on load.
    write_marker = __import__("pathlib").Path(os.environ["FLOWY_TEST_MARKER"]).write_text
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: (write_marker("ran"), x)[1])(inputs))
    path = tmp_path / "bomb.keras"
    model.save(path)
    marker.unlink(missing_ok=True)  # building the model ran the lambda once
    ref = plant(store, "keras", path.read_bytes())
    with pytest.raises(UnsafeArtifactError, match="allow_pickle") as info:
        read_artifact(store, ref, registry)
    assert "Lambda" in str(info.value)
    assert not marker.exists()


def test_pickle_is_never_chosen_without_the_opt_in(registry):
    import fm_payloads

    with pytest.raises(MaterializerNotFoundError, match="allow_pickle=True"):
        registry.resolve(fm_payloads.Plain(1))
    registration, _ = registry.resolve(fm_payloads.Plain(1), allow_pickle=True)
    assert registration.name == "pickle" and registration.info["safe"] is False


def test_object_arrays_go_to_pickle_only_with_the_opt_in(registry):
    import numpy as np

    value = np.array([{"a": 1}], dtype=object)
    with pytest.raises(MaterializerNotFoundError, match="'numpy' materializer refused"):
        registry.resolve(value)
    assert registry.resolve(value, allow_pickle=True)[0].name == "pickle"

"""TensorFlow tensors and variables as ``.npy``; Keras models as native ``.keras``.

A ``tf.Tensor``/``tf.Variable`` is data: its NumPy value goes through the
numpy materializer's ``.npy`` writer (string tensors as fixed-width bytes,
never object arrays) and comes back as a tensor, or as a variable with its
name and ``trainable`` flag.

A ``keras.Model`` is saved in Keras' own ``.keras`` zip (architecture as
JSON, weights as HDF5). Keras saves to a path, so the file is written to a
private temporary folder and copied into the store's handle in chunks; on
load the stream is spooled to a temporary file. Loading uses
``safe_mode=True``, which refuses Lambda layers (they carry Python bytecode)
and any other deserialization that could run code. The pickle opt-in
(``allow_pickle``) is the only way to turn safe mode off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, BinaryIO

from flowy.kernel.contracts import Materializer
from flowy.kernel.errors import UnsafeArtifactError

from flowy_materializers._files import copy_file_to, json_safe, spooled_path, temp_path
from flowy_materializers.numpy_materializer import read_npy, write_npy


class TensorflowTensorMaterializer(Materializer):
    """``tf.Tensor`` and ``tf.Variable`` as ``.npy``."""

    name = "tensorflow"
    version = "1"
    extension = ".npy"

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        import tensorflow as tf

        value = obj.numpy()
        if obj.dtype == tf.string:
            value = value.astype(bytes)  # fixed-width "S": no object array, no pickle
        write_npy(value, file)
        meta: dict[str, Any] = {
            "kind": "variable" if isinstance(obj, tf.Variable) else "tensor",
            "shape": list(value.shape),
            "dtype": obj.dtype.name,
        }
        if isinstance(obj, tf.Variable):
            meta.update(name=obj.name.split(":")[0], trainable=bool(obj.trainable))
        return meta

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        import tensorflow as tf

        value = read_npy(file)
        dtype = tf.as_dtype(metadata.get("dtype", value.dtype))
        if metadata.get("kind") == "variable":
            return tf.Variable(
                value, dtype=dtype, name=metadata.get("name"),
                trainable=bool(metadata.get("trainable", True)),
            )  # fmt: skip
        return tf.constant(value, dtype=dtype)


def _shapes(tensors: Any) -> Any:
    try:
        return [json_safe([d for d in t.shape]) for t in tensors]
    except (AttributeError, TypeError, ValueError):
        return None


def model_metadata(model: Any) -> dict[str, Any]:
    """Layers, parameter counts, input and output shapes (when the model is built)."""
    layers = list(getattr(model, "layers", []))
    meta: dict[str, Any] = {
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "name": model.name,
        "n_layers": len(layers),
        "layers": [[layer.name, type(layer).__name__] for layer in layers[:200]],
        "built": bool(model.built),
    }
    if model.built:
        meta["parameter_count"] = int(model.count_params())
        meta["trainable_parameter_count"] = int(
            sum(int(w.numpy().size) for w in model.trainable_weights)
        )
    try:
        meta["input_shapes"] = _shapes(model.inputs)
        meta["output_shapes"] = _shapes(model.outputs)
    except (AttributeError, ValueError):  # subclassed models have no symbolic inputs
        pass
    return meta


class KerasMaterializer(Materializer):
    """``keras.Model`` as native ``.keras``, loaded with ``safe_mode=True``."""

    name = "keras"
    version = "1"
    extension = ".keras"

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        import keras

        with temp_path(".keras") as path:
            obj.save(path)
            copy_file_to(path, file)
        meta = model_metadata(obj)
        meta["keras_version"] = keras.__version__
        return meta

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        import keras
        from flowy.artifacts import unsafe_load_allowed

        safe = not unsafe_load_allowed()
        with spooled_path(file, ".keras") as path:
            try:
                return keras.saving.load_model(path, safe_mode=safe)
            except (ValueError, TypeError) as exc:  # Keras wraps the refusal in either
                if not safe or "safe_mode" not in str(exc):
                    raise
                raise UnsafeArtifactError(
                    "This Keras model contains a layer that can only be loaded by running "
                    "Python code stored in the file (a Lambda layer), so Keras' safe mode "
                    "refused it and nothing ran. Prefer a custom layer class registered with "
                    "`@keras.saving.register_keras_serializable()`. If you trust everything in "
                    "this store, opt in with `allow_pickle=True` on the step or "
                    f"`flowy config set allow_pickle true`. (Keras said: {str(exc)[:300]})"
                ) from exc

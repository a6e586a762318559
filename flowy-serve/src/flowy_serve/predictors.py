"""Predictors: one small class per model family, saying how to call it.

A predictor wraps a loaded model and turns validated inputs (a pandas frame
for frame models, a 2-D or N-D numpy array otherwise) into predictions. The
server never calls a model directly, so a plugin adds a family with the
``flowy_register_predictors`` hook (docs/serving.md) and nothing else changes.

Each method named in :meth:`Predictor.methods` is callable by
``POST /predict?method=NAME`` (``predict`` is the default).
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import Any

from flowy_serve.errors import InputError


class Predictor:
    """How to call one family of models. Subclass it and register it by dotted path.

    ``model`` is the loaded object. Override :meth:`predict` (and list more
    methods in :attr:`methods`); :meth:`infer_schema` may describe the inputs the
    model expects when the registry recorded nothing better.
    """

    #: The distribution names whose versions ``GET /metadata`` reports.
    frameworks: tuple[str, ...] = ()
    #: Whether a call may run in several threads at once (else calls are serialized).
    thread_safe: bool = True

    def __init__(self, model: Any) -> None:
        self.model = model

    @property
    def methods(self) -> list[str]:
        return ["predict"]

    def predict(self, inputs: Any, method: str = "predict") -> Any:
        """Predictions for ``inputs`` (a frame or an array), one per row."""
        raise NotImplementedError

    def infer_schema(self) -> dict[str, Any] | None:
        """What the model itself says about its inputs, or None (see flowy_serve.schema)."""
        return None

    def framework_versions(self) -> dict[str, str]:
        found = {}
        for dist in self.frameworks:
            try:
                found[dist] = _metadata.version(dist)
            except _metadata.PackageNotFoundError:
                continue
        return found


class SklearnPredictor(Predictor):
    """scikit-learn estimators and pipelines: ``predict`` and, where present, ``predict_proba``."""

    frameworks = ("scikit-learn", "skops", "numpy", "pandas")

    @property
    def methods(self) -> list[str]:
        names = ["predict"]
        for extra in ("predict_proba", "decision_function"):
            if _has_method(self.model, extra):
                names.append(extra)
        return names

    def predict(self, inputs: Any, method: str = "predict") -> Any:
        return getattr(self.model, method)(inputs)

    def infer_schema(self) -> dict[str, Any] | None:
        names = getattr(self.model, "feature_names_in_", None)
        if names is not None:
            return {"kind": "frame", "columns": [str(n) for n in names], "dtypes": {}}
        count = getattr(self.model, "n_features_in_", None)
        if isinstance(count, int):
            return {"kind": "array", "shape": [count], "dtype": "float64"}
        return None

    def classes(self) -> list[Any] | None:
        classes = getattr(self.model, "classes_", None)
        return None if classes is None else [c.item() if hasattr(c, "item") else c for c in classes]


def _has_method(model: Any, name: str) -> bool:
    """``hasattr`` that survives sklearn's ``available_if`` raising AttributeError lazily."""
    try:
        return callable(getattr(model, name))
    except AttributeError:
        return False


class TorchPredictor(Predictor):
    """PyTorch modules: ``forward`` in eval mode under ``inference_mode``, in batches."""

    frameworks = ("torch", "numpy")
    batch_size = 4096

    def predict(self, inputs: Any, method: str = "predict") -> Any:
        import numpy as np
        import torch

        first = next(iter(self.model.parameters()), None)
        dtype = first.dtype if first is not None else torch.float32
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(inputs), self.batch_size):
                chunk = torch.as_tensor(
                    np.ascontiguousarray(inputs[start : start + self.batch_size])
                )
                outputs.append(self.model(chunk.to(dtype)).cpu().numpy())
        if not outputs:
            return np.zeros((0,), dtype=np.float32)
        return np.concatenate(outputs)

    def infer_schema(self) -> dict[str, Any] | None:
        import torch

        for module in self.model.modules():
            if isinstance(module, torch.nn.Linear):
                return {"kind": "array", "shape": [module.in_features], "dtype": "float32"}
            if isinstance(module, torch.nn.Conv1d | torch.nn.Conv2d | torch.nn.Conv3d):
                return None  # spatial sizes are not in the weights
        return None


class KerasPredictor(Predictor):
    """Keras models: ``predict_on_batch`` (no progress bar, no per-call graph rebuild)."""

    frameworks = ("keras", "tensorflow", "numpy")
    batch_size = 4096

    def predict(self, inputs: Any, method: str = "predict") -> Any:
        import numpy as np

        outputs = [
            np.asarray(self.model.predict_on_batch(inputs[start : start + self.batch_size]))
            for start in range(0, len(inputs), self.batch_size)
        ]
        if not outputs:
            return np.zeros((0,), dtype=np.float32)
        return np.concatenate(outputs)

    def infer_schema(self) -> dict[str, Any] | None:
        shape = getattr(self.model, "input_shape", None)
        if isinstance(shape, tuple) and shape and all(isinstance(d, int) for d in shape[1:]):
            dtype = "float32"
            inputs = getattr(self.model, "inputs", None)
            if inputs:
                dtype = str(getattr(inputs[0], "dtype", dtype))
            return {"kind": "array", "shape": list(shape[1:]), "dtype": dtype}
        return None


def check_method(predictor: Predictor, method: str) -> None:
    if method not in predictor.methods:
        raise InputError(
            f"this model has no method {method!r}; it offers {', '.join(predictor.methods)}",
            status=400,
        )

"""Entry-point module: registers each framework's materializer by dotted path.

Nothing here imports numpy, pandas, scikit-learn, torch or tensorflow: the
registry matches fully qualified type names against an object's MRO, and a
materializer's module is imported only when an object of its type appears
(and those modules import their framework only inside their methods).

``requires`` lists *import names* (``sklearn``, not ``scikit-learn``); a tool
that wants to know whether a materializer can work checks each with
``importlib.util.find_spec`` (see :func:`flowy_materializers.availability`),
which never imports the framework. ``install`` is the pip requirement that
brings them. Type names are listed for every layout the supported versions
use (pandas 3 re-exports ``pandas.DataFrame``; pandas 2 names
``pandas.core.frame.DataFrame``).
"""

from __future__ import annotations

from typing import Any

from flowy import hookimpl

_PKG = "flowy_materializers"

#: name -> registration info; the single source for the hook and for availability().
MATERIALIZERS: dict[str, dict[str, Any]] = {
    "numpy": {
        "target": f"{_PKG}.numpy_materializer:NumpyMaterializer",
        "types": ["numpy.ndarray"],
        "extension": ".npy",
        "format": "npy (loaded with allow_pickle=False)",
        "requires": ["numpy"],
        "install": "flowy-materializers",
        "description": "numeric, bool, string and datetime arrays; object arrays refused",
    },
    "pandas": {
        "target": f"{_PKG}.pandas_materializer:PandasMaterializer",
        "types": [
            "pandas.DataFrame",
            "pandas.Series",
            "pandas.core.frame.DataFrame",
            "pandas.core.series.Series",
        ],
        "extension": ".parquet",
        "format": "Parquet via pyarrow (index, dtypes and categoricals round-trip)",
        "requires": ["pandas", "pyarrow"],
        "install": "flowy-materializers[pandas]",
        "description": "DataFrame and Series",
    },
    # Large plain numeric frames: asked before "pandas" (priority), accepts only those.
    "pandas_arrow": {
        "target": f"{_PKG}.pandas_materializer:PandasArrowMaterializer",
        "types": ["pandas.DataFrame", "pandas.core.frame.DataFrame"],
        "priority": 10,
        "extension": ".arrows",
        "format": "Arrow IPC stream, uncompressed (numeric matrices of 16 MiB or more)",
        "requires": ["pandas", "pyarrow"],
        "install": "flowy-materializers[pandas]",
        "description": "large DataFrames whose columns share one int/float dtype (RangeIndex)",
    },
    "sklearn": {
        "target": f"{_PKG}.sklearn_materializer:SklearnMaterializer",
        "types": ["sklearn.base.BaseEstimator"],
        "extension": ".skops",
        "format": "skops, loaded with an explicit trusted-type list",
        "requires": ["sklearn", "skops"],
        "install": "flowy-materializers[sklearn]",
        "description": "scikit-learn estimators and pipelines, fitted or not",
    },
    "torch": {
        "target": f"{_PKG}.torch_materializer:TorchTensorMaterializer",
        # builtins.dict: a dict whose values are all tensors (a state_dict). Its
        # accepts() checks type names only, so a plain dict imports no torch and
        # falls through to the JSON materializer.
        "types": ["torch.Tensor", "builtins.dict"],
        "priority": 10,
        "extension": ".safetensors",
        "format": "safetensors",
        "requires": ["torch"],
        "install": "flowy-materializers[torch]",
        "description": "tensors and dicts of tensors (state_dicts)",
    },
    "torch_module": {
        "target": f"{_PKG}.torch_materializer:TorchModuleMaterializer",
        "types": ["torch.nn.modules.module.Module"],
        "extension": ".safetensors",
        "format": "state_dict as safetensors + class path and constructor arguments",
        "requires": ["torch"],
        "install": "flowy-materializers[torch]",
        "description": "nn.Module rebuilt from its class and `flowy_init_args`, weights loaded",
    },
    "tensorflow": {
        "target": f"{_PKG}.tensorflow_materializer:TensorflowTensorMaterializer",
        "types": [
            "tensorflow.python.framework.tensor.Tensor",
            "tensorflow.python.framework.ops.Tensor",
            "tensorflow.python.ops.variables.Variable",
        ],
        "extension": ".npy",
        "format": "npy (loaded with allow_pickle=False)",
        "requires": ["tensorflow"],
        "install": "flowy-materializers[tensorflow]",
        "description": "tf.Tensor and tf.Variable",
    },
    "keras": {
        "target": f"{_PKG}.tensorflow_materializer:KerasMaterializer",
        "types": ["keras.src.models.model.Model", "keras.src.engine.training.Model"],
        "extension": ".keras",
        "format": "native .keras, loaded with safe_mode=True",
        "requires": ["keras"],
        "install": "flowy-materializers[tensorflow]",
        "description": "keras.Model (Sequential, functional, subclassed and registered)",
    },
    # Streaming steps: a generator's chunks, written as they arrive. Both claim the
    # generator; chunked_parquet is asked first and both look at its first chunk.
    "chunked_parquet": {
        "target": f"{_PKG}.chunked_materializer:ChunkedParquetMaterializer",
        "types": ["builtins.generator"],
        "priority": 10,
        "extension": ".parquet",
        "format": "Parquet, one row group per chunk, each chunk checksummed",
        "requires": ["pyarrow"],
        "install": "flowy-materializers[pandas]",
        "description": "generators of DataFrames or pyarrow RecordBatches/Tables (streaming steps)",
    },
    "chunked_npy": {
        "target": f"{_PKG}.chunked_materializer:ChunkedNpyMaterializer",
        "types": ["builtins.generator"],
        "extension": ".npys",
        "format": "npy records back to back (pickle off), each chunk checksummed",
        "requires": ["numpy"],
        "install": "flowy-materializers",
        "description": "generators of numpy arrays, concatenated on axis 0 (streaming steps)",
    },
    "pickle": {
        "target": f"{_PKG}.pickle_materializer:PickleMaterializer",
        # Never chosen by type (flowy.artifacts.resolution.PICKLE_NAMES): only when a step
        # or the project opts in with allow_pickle and no safe materializer fits.
        "types": [],
        "extension": ".pkl",
        "format": "pickle (cloudpickle when installed); UNSAFE to load from untrusted stores",
        "safe": False,
        "requires": [],
        "install": "flowy-materializers",
        "description": "last resort for values nothing else handles; needs allow_pickle",
    },
}

#: Every materializer's version; must equal the class's ``version`` (tested).
VERSIONS = {name: "1" for name in MATERIALIZERS}


@hookimpl
def flowy_register_materializers(register: Any) -> None:
    for name, info in MATERIALIZERS.items():
        extra = {k: v for k, v in info.items() if k != "target"}
        extra.setdefault("safe", True)
        # "version" is taken by the registry (the distribution's version), so the
        # materializer's own version travels as "materializer_version".
        register(name, info["target"], materializer_version=VERSIONS[name], **extra)

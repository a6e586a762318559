"""The facts an asset derives from its value, found by duck typing, never by importing.

A :class:`~flowy.tracking.assets.Dataset` records its rows and schema, a
:class:`~flowy.tracking.assets.Model` its parameter count and shapes, a
:class:`~flowy.tracking.assets.FeatureSet` its column statistics, whatever library
made the value: these functions look for ``len()``, ``.shape``, ``.dtypes``,
``.iloc``, ``.parameters()``, ``count_params()`` or scikit-learn's fitted
attributes, so recording an asset never imports pandas, numpy or torch. Each
answers ``None`` when the value does not have the fact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def is_columns(value: Any) -> bool:
    """A tuple or list of equal-length arrays or frames, such as ``(X, y)``: split together."""
    return (
        isinstance(value, tuple | list)
        and len(value) > 0
        and all(hasattr(v, "shape") or hasattr(v, "iloc") for v in value)
        and len({len(v) for v in value}) == 1
    )


def rows(value: Any) -> int | None:
    """How many rows: the first dimension of a shape, else ``len()``; (X, y) counts once."""
    if is_columns(value):
        return len(value[0])
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape:
        return int(shape[0])
    return len(value) if has_len(value) else None


def has_len(value: Any) -> bool:
    """Whether ``len(value)`` answers (a generator or a scalar does not)."""
    try:
        len(value)
    except TypeError:
        return False
    return True


def take(value: Any, idx: list[int]) -> Any:
    """The rows at positions ``idx``: ``iloc`` for frames, fancy indexing for arrays."""
    if is_columns(value):
        parts = [take(v, idx) for v in value]
        return tuple(parts) if isinstance(value, tuple) else parts
    if hasattr(value, "iloc"):
        return value.iloc[idx]
    if hasattr(value, "shape") and hasattr(value, "__getitem__"):
        return value[idx]
    return [value[i] for i in idx]


def schema(value: Any) -> dict[str, str] | None:
    """Column name -> type: frame dtypes, array columns, or the keys of a list of records."""
    dtypes = getattr(value, "dtypes", None)
    if dtypes is not None and hasattr(dtypes, "items"):
        return {str(k): str(v) for k, v in dtypes.items()}
    dtype, shape = getattr(value, "dtype", None), getattr(value, "shape", None)
    if dtype is not None and isinstance(shape, tuple):
        if len(shape) == 2 and dtype.names is None:
            return {str(i): str(dtype) for i in range(min(shape[1], 1000))}
        return {"shape": str(list(shape)), "dtype": str(dtype)}
    if isinstance(value, Sequence) and value and isinstance(value[0], Mapping):
        return {str(k): type(v).__name__ for k, v in value[0].items()}
    return None


def statistics(value: Any) -> dict[str, dict[str, float]] | None:
    """min/max/mean of numeric columns (pandas or 2-D arrays), first 200 columns."""
    try:
        if hasattr(value, "select_dtypes"):
            frame = value.select_dtypes("number").iloc[:, :200]
            return {
                str(c): {"min": float(s.min()), "max": float(s.max()), "mean": float(s.mean())}
                for c, s in frame.items()
            }
        shape = getattr(value, "shape", None)
        if isinstance(shape, tuple) and len(shape) == 2 and value.dtype.kind in "biuf":
            cols = value[:, :200]
            mins, maxs, means = cols.min(axis=0), cols.max(axis=0), cols.mean(axis=0)
            return {
                str(i): {"min": float(mins[i]), "max": float(maxs[i]), "mean": float(means[i])}
                for i in range(cols.shape[1])
            }
    except (TypeError, ValueError, AttributeError):
        return None
    return None


def parameter_count(model: Any) -> int | None:
    """Trainable values: torch ``parameters()``, Keras ``count_params()``, sklearn arrays."""
    if callable(getattr(model, "count_params", None)):
        return int(model.count_params())
    if callable(getattr(model, "parameters", None)) and not hasattr(model, "get_params"):
        return int(sum(p.numel() for p in model.parameters()))
    if hasattr(model, "get_params"):  # scikit-learn: fitted arrays end with "_"
        total = 0
        for key, val in vars(model).items():
            fitted = key.endswith("_") and not key.startswith("_")
            if fitted and getattr(val, "dtype", None) is not None and val.dtype.kind in "fc":
                total += int(val.size)
        for est in getattr(model, "estimators_", None) or []:
            total += parameter_count(est) or 0
        return total
    if hasattr(model, "size") and hasattr(model, "dtype"):
        return int(model.size)
    if isinstance(model, Mapping) and all(hasattr(v, "size") for v in model.values()):
        return int(sum(int(v.size) for v in model.values()))
    return None


def model_shapes(model: Any) -> tuple[list[int | None] | None, list[int | None] | None]:
    """(input, output) shapes a scikit-learn estimator reveals once fitted; None otherwise."""
    n_in = getattr(model, "n_features_in_", None)
    classes = getattr(model, "classes_", None)
    shape_in: list[int | None] | None = [None, int(n_in)] if n_in is not None else None
    shape_out: list[int | None] | None = None
    if classes is not None and has_len(classes):
        shape_out = [None, len(classes)]
    return shape_in, shape_out

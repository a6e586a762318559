"""A DataFrame's (or Series') head, schema and column statistics.

Bounded: the head is the first :data:`HEAD_ROWS` rows of the first
:data:`MAX_COLUMNS` columns, statistics cover those columns only, and the schema
lists at most :data:`SCHEMA_COLUMNS` columns. pandas is imported by the caller's
load, never here at import time.
"""

from __future__ import annotations

from typing import Any

from flowy_ui.previews.values import cell, number

HEAD_ROWS = 20
MAX_COLUMNS = 50
SCHEMA_COLUMNS = 1000


def is_frame(value: Any) -> bool:
    """A pandas DataFrame or Series (by duck typing: no pandas import)."""
    module = type(value).__module__
    return module.startswith("pandas") and hasattr(value, "iloc") and hasattr(value, "dtypes")


def _stats(series: Any, rows: int) -> dict[str, Any]:
    from pandas.api import types

    count = int(series.count())
    out: dict[str, Any] = {"count": count, "nulls": rows - count}
    dtype = series.dtype
    if types.is_bool_dtype(dtype):
        out["mean"] = number(series.mean()) if count else None
    elif types.is_numeric_dtype(dtype) and not types.is_complex_dtype(dtype):
        import numpy as np

        with np.errstate(all="ignore"):  # infinities: std is NaN, sent as null
            described = series.agg(["mean", "std", "min", "max"])
        out.update({key: number(described[key]) for key in ("mean", "std", "min", "max")})
    elif types.is_datetime64_any_dtype(dtype):
        out["min"], out["max"] = cell(series.min()), cell(series.max())
    else:
        counts = series.value_counts(dropna=True)
        out["unique"] = len(counts)
        out["top"] = None if counts.empty else str(cell(counts.index[0]))
    return out


def preview(value: Any) -> dict[str, Any]:
    """kind ``frame``: rows, schema, head (index + rows of cells) and per-column statistics."""
    frame = value.to_frame() if getattr(value, "ndim", 2) == 1 else value
    rows, width = frame.shape
    shown = frame.iloc[:HEAD_ROWS, :MAX_COLUMNS]
    columns = []
    for position, (name, dtype) in enumerate(list(frame.dtypes.items())[:SCHEMA_COLUMNS]):
        column: dict[str, Any] = {"name": str(name), "dtype": str(dtype)}
        if position < MAX_COLUMNS:
            column["stats"] = _stats(frame.iloc[:, position], rows)
        columns.append(column)
    return {
        "kind": "frame",
        "rows": int(rows),
        "total_columns": int(width),
        "columns": columns,
        "head_columns": [str(c) for c in shown.columns],
        "head_index": [cell(i) for i in shown.index],
        "head": [[cell(v) for v in row] for row in shown.itertuples(index=False, name=None)],
        "truncated": rows > HEAD_ROWS or width > MAX_COLUMNS,
    }

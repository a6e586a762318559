"""The inputs a model takes, and turning a request's rows into exactly that.

A schema is a small JSON-able dict, shown by ``GET /metadata``:

* ``{"kind": "frame", "columns": [...], "dtypes": {column: dtype}}`` for models
  fitted on a frame (a scikit-learn model's ``feature_names_in_``); the dtypes
  come from the training frame recorded upstream of the model in the lineage
  (the pandas materializer records every column's dtype);
* ``{"kind": "array", "shape": [4], "dtype": "float32"}``: the trailing shape of
  each row (a scikit-learn model's ``n_features_in_``, a torch module's first
  ``Linear`` layer, a Keras model's ``input_shape``);
* ``None``: nothing is known; rows are passed as they come (2-D or more).

Every mismatch is an :class:`~flowy_serve.errors.InputError` (HTTP 422) that
names the column or the shape, so a client can fix its request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flowy_serve.errors import InputError

Schema = dict[str, Any]


def complete_schema(
    found: Schema | None, upstream_dtypes: Iterable[Mapping[str, str]]
) -> Schema | None:
    """Add the training frame's dtypes to a frame schema: the nearest frame with every column."""
    if not found or found.get("kind") != "frame" or found.get("dtypes"):
        return found
    columns = found["columns"]
    for dtypes in upstream_dtypes:
        if all(c in dtypes for c in columns):
            return {**found, "dtypes": {c: str(dtypes[c]) for c in columns}}
    return found


def describe(schema: Schema | None) -> str:
    if not schema:
        return "any rows (no schema was recorded)"
    if schema["kind"] == "frame":
        return "columns " + ", ".join(schema["columns"])
    return f"rows of shape {tuple(schema['shape'])}"


# -- frames -------------------------------------------------------------------


def to_frame(payload: Any, schema: Schema | None) -> Any:
    """A pandas frame in the schema's column order and dtypes, from records, rows or a table."""
    import pandas as pd

    columns: list[str] | None = schema["columns"] if schema else None
    kind, data = payload
    if kind == "records":
        frame = pd.DataFrame.from_records(data)
    elif kind == "inputs":
        if columns is None:
            raise InputError(
                'this model\'s columns are unknown: send {"records": [{column: value}, ...]}'
            )
        widths = {len(row) if isinstance(row, list) else -1 for row in data}
        if widths - {len(columns)}:
            raise InputError(
                f'each row of "inputs" must hold {len(columns)} values, one per column '
                f"({', '.join(columns)}); got rows of {sorted(widths)} values"
            )
        frame = pd.DataFrame(data, columns=columns)
    else:
        frame = data.to_pandas()
    if columns is None:
        return frame
    missing = [c for c in columns if c not in frame.columns]
    extra = [str(c) for c in frame.columns if c not in set(columns)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
        if extra:
            parts.append(f"unexpected column(s) {', '.join(map(repr, extra))}")
        raise InputError(f"{'; '.join(parts)}: this model takes {', '.join(columns)}")
    frame = frame[columns]
    for column, dtype in (schema or {}).get("dtypes", {}).items():
        frame[column] = _coerce(frame[column], column, dtype)
    return frame


def _coerce(series: Any, column: str, dtype: str) -> Any:
    """``series`` as ``dtype`` (the training frame's), or an InputError naming the column."""
    import numpy as np
    import pandas as pd

    if dtype in ("category", "object", "string", "str"):
        if series.dtype.kind in "iufb":
            raise InputError(
                f"column {column!r} must be text ({dtype} in training), got {series.dtype} values"
            )
        return series.astype("category") if dtype == "category" else series
    try:
        want = np.dtype(dtype)
    except TypeError:
        return series  # an extension dtype we do not check
    if want.kind in "iuf":
        if series.dtype.kind not in "iufb":
            try:
                series = pd.to_numeric(series, errors="raise")
            except (ValueError, TypeError) as exc:
                raise InputError(
                    f"column {column!r} must be numbers ({dtype} in training): {exc}"
                ) from None
        whole = series.dtype.kind != "f" or not (series.isna().any() or (series % 1 != 0).any())
        if want.kind in "iu" and not whole:
            raise InputError(
                f"column {column!r} must be whole numbers ({dtype} in training), "
                "got fractions or nulls"
            )
        return series.astype(want, copy=False)
    if want.kind == "b":
        if series.dtype.kind != "b":
            raise InputError(f"column {column!r} must be true/false, got {series.dtype} values")
        return series
    if want.kind == "M":
        try:
            return pd.to_datetime(series)
        except (ValueError, TypeError) as exc:
            raise InputError(f"column {column!r} must be dates and times: {exc}") from None
    return series


# -- arrays -------------------------------------------------------------------


def to_array(payload: Any, schema: Schema | None) -> Any:
    """A numpy array of rows with the schema's trailing shape and dtype."""
    import numpy as np

    kind, data = payload
    dtype = np.dtype(schema["dtype"]) if schema and schema.get("dtype") else np.dtype("float32")
    if kind == "records":
        raise InputError(
            'this model takes arrays, not records: send {"inputs": [[...], ...]} '
            f"({describe(schema)})"
        )
    try:
        array = np.asarray(data, dtype=dtype) if kind == "inputs" else _table_array(data, dtype)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"inputs must be numbers in rows of equal length ({describe(schema)}): {exc}"
        ) from None
    if array.ndim < 2:
        raise InputError(
            f"inputs must be a list of rows (2-D), got {array.ndim}-D: wrap one row as [[...]]"
        )
    if schema and list(array.shape[1:]) != list(schema["shape"]):
        raise InputError(
            f"each row must have shape {tuple(schema['shape'])}, got {tuple(array.shape[1:])}"
        )
    return array


def _table_array(table: Any, dtype: Any) -> Any:
    """A 2-D array from numeric columns, or N-D from one column of fixed-size lists."""
    import numpy as np
    import pyarrow as pa

    if table.num_columns == 1 and pa.types.is_fixed_size_list(table.column(0).type):
        column = table.column(0).combine_chunks()
        width = column.type.list_size
        return column.flatten().to_numpy().astype(dtype, copy=False).reshape(-1, width)
    for name, kind in zip(table.column_names, table.schema.types, strict=True):
        if not (
            pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
        ):
            raise InputError(f"column {name!r} is {kind}; an array model takes numeric columns")
    if table.num_columns == 0:
        return np.zeros((table.num_rows, 0), dtype=dtype)
    return np.column_stack(
        [table.column(i).to_numpy().astype(dtype, copy=False) for i in range(table.num_columns)]
    )


def model_input(payload: Any, schema: Schema | None) -> Any:
    """Rows as the model takes them: a frame for frame models, else an array."""
    if schema and schema.get("kind") == "frame":
        return to_frame(payload, schema)
    if schema is None and payload[0] == "records":
        return to_frame(payload, None)
    if (
        schema is None
        and payload[0] == "table"
        and any(not _numeric(t) for t in payload[1].schema.types)
    ):
        return to_frame(payload, None)
    return to_array(payload, schema)


def _numeric(kind: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    )

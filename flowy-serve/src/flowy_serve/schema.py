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
    """A pandas frame in the schema's column order and dtypes, from records, rows or a table.

    JSON rows are checked and converted column by column as plain lists (a few
    microseconds for one row) and the frame is built once; a table's columns go
    through pandas.
    """
    import pandas as pd

    columns: list[str] | None = schema["columns"] if schema else None
    kind, data = payload
    if kind == "table":
        frame = data.to_pandas()
        names = [str(c) for c in frame.columns]
    elif kind == "records":
        names = list(dict.fromkeys(key for record in data for key in record))
        for number, record in enumerate(data):
            if len(record) != len(names):  # a column left out of one record is not a null
                lacking = ", ".join(repr(n) for n in names if n not in record)
                raise InputError(
                    f"record {number} has no {lacking} (missing column(s)); "
                    "send null for a missing value"
                )
        values = {name: [record.get(name) for record in data] for name in names}
    else:
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
        names = list(columns)
        values = {name: [row[i] for row in data] for i, name in enumerate(names)}
    if columns is None:
        return frame if kind == "table" else pd.DataFrame(values)
    _check_columns(names, columns)
    dtypes = (schema or {}).get("dtypes", {})
    if kind == "table":
        frame = frame[columns]
        for column, dtype in dtypes.items():
            frame[column] = _coerce(frame[column], column, dtype)
        return frame
    return pd.DataFrame(
        {c: _coerce_list(values[c], c, dtypes[c]) if c in dtypes else values[c] for c in columns}
    )


def _check_columns(names: list[str], columns: list[str]) -> None:
    missing = [c for c in columns if c not in set(names)]
    extra = [c for c in names if c not in set(columns)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(map(repr, missing))}")
        if extra:
            parts.append(f"unexpected column(s) {', '.join(map(repr, extra))}")
        raise InputError(f"{'; '.join(parts)}: this model takes {', '.join(columns)}")


_TEXT = ("category", "object", "string", "str")


def _coerce_list(values: list[Any], column: str, dtype: str) -> Any:
    """JSON values of one column as ``dtype``, or an InputError naming the column."""
    import numpy as np

    if dtype in _TEXT:
        wrong = next((v for v in values if v is not None and not isinstance(v, str)), None)
        if wrong is not None:
            raise InputError(f"column {column!r} must be text ({dtype} in training), got {wrong!r}")
        if dtype == "category":
            import pandas as pd

            return pd.Categorical(values)
        return np.array(values, dtype=object)
    try:
        want = np.dtype(dtype)
    except TypeError:
        return values  # an extension dtype we do not check
    if want.kind in "iuf":
        if any(isinstance(v, str | bool) for v in values):
            bad = next(v for v in values if isinstance(v, str | bool))
            raise InputError(
                f"column {column!r} must be numbers ({dtype} in training), got {bad!r}"
            )
        try:
            numbers = np.array(values, dtype=np.float64 if want.kind == "f" else object)
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"column {column!r} must be numbers ({dtype} in training): {exc}"
            ) from None
        if want.kind in "iu":
            if any(v is None or (isinstance(v, float) and not v.is_integer()) for v in values):
                raise InputError(
                    f"column {column!r} must be whole numbers ({dtype} in training), "
                    "got fractions or nulls"
                )
            if any(not isinstance(v, int | float) for v in values):
                raise InputError(f"column {column!r} must be numbers ({dtype} in training)")
        return numbers.astype(want)
    if want.kind == "b":
        if not all(isinstance(v, bool) for v in values):
            raise InputError(f"column {column!r} must be true/false ({dtype} in training)")
        return np.array(values, dtype=bool)
    if want.kind == "M":
        import pandas as pd

        try:
            return pd.to_datetime(values)
        except (ValueError, TypeError) as exc:
            raise InputError(f"column {column!r} must be dates and times: {exc}") from None
    return values


def _coerce(series: Any, column: str, dtype: str) -> Any:
    """``series`` as ``dtype`` (the training frame's), or an InputError naming the column."""
    import numpy as np
    import pandas as pd

    if dtype in _TEXT:
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

"""Request bodies in, predictions out: JSON, Apache Arrow IPC and Parquet.

The request's ``Content-Type`` says how its body is read; the predictions go
back in the same kind unless ``Accept`` names another of the three. Arrow and
Parquet carry large batches without a JSON round trip: a table's columns are
the features (or one fixed-size-list column holds each row of an array model),
and the answer is a table with a ``prediction`` column (or one column per
output, ``prediction_0``...; per class, ``proba_<class>``, for ``predict_proba``).
"""

from __future__ import annotations

import io
import json
from typing import Any

from flowy_serve.errors import InputError

JSON = "application/json"
ARROW = "application/vnd.apache.arrow.stream"
ARROW_FILE = "application/vnd.apache.arrow.file"
PARQUET = "application/vnd.apache.parquet"
_KINDS = {
    JSON: "json",
    ARROW: "arrow",
    ARROW_FILE: "arrow",
    PARQUET: "parquet",
    "application/x-parquet": "parquet",
    "application/parquet": "parquet",
}
MEDIA = {"json": JSON, "arrow": ARROW, "parquet": PARQUET}


def body_kind(content_type: str | None) -> str:
    """``json``, ``arrow`` or ``parquet`` from a Content-Type header (415 otherwise)."""
    media = (content_type or JSON).split(";")[0].strip().lower()
    kind = _KINDS.get(media)
    if kind is None:
        raise InputError(
            f"unsupported Content-Type {media!r}: send {JSON}, {ARROW} or {PARQUET}", status=415
        )
    return kind


def answer_kind(accept: str | None, request_kind: str) -> str:
    """The request's own kind, unless Accept names exactly one other kind we speak."""
    if accept:
        for part in accept.split(","):
            kind = _KINDS.get(part.split(";")[0].strip().lower())
            if kind is not None:
                return kind
    return request_kind


def decode(body: bytes, kind: str) -> tuple[str, Any]:
    """``("inputs", rows)``, ``("records", dicts)`` or ``("table", pyarrow.Table)``."""
    if kind == "json":
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise InputError(f"the body is not valid JSON: {exc}", status=400) from None
        if not isinstance(data, dict) or len({"inputs", "records"} & set(data)) != 1:
            raise InputError(
                'the JSON body must be an object with one key, "inputs" (a list of rows) or '
                '"records" (a list of {column: value} objects)'
            )
        key = "inputs" if "inputs" in data else "records"
        rows = data[key]
        if not isinstance(rows, list):
            raise InputError(f'"{key}" must be a list, got {type(rows).__name__}')
        if key == "records" and not all(isinstance(r, dict) for r in rows):
            raise InputError('each item of "records" must be an object {column: value}')
        return key, rows
    import pyarrow as pa

    try:
        if kind == "arrow":
            source = pa.BufferReader(body)
            try:
                table = pa.ipc.open_stream(source).read_all()
            except pa.ArrowInvalid:
                table = pa.ipc.open_file(pa.BufferReader(body)).read_all()
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(pa.BufferReader(body))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"the body is not a valid {kind} table: {exc}", status=400) from None
    return "table", table


def encode(predictions: Any, kind: str, *, classes: list[Any] | None = None) -> bytes:
    """Predictions as JSON ``{"predictions": [...]}``, or an Arrow / Parquet table."""
    import numpy as np

    values = as_array(predictions)
    if kind == "json":
        answer: dict[str, Any] = {"predictions": values.tolist()}
        if classes is not None:
            answer["classes"] = classes
        return json.dumps(answer, default=_json_default).encode()
    import pyarrow as pa

    if values.ndim <= 1:
        columns = {"prediction": values}
    else:
        flat = values.reshape(len(values), -1)
        names = (
            [f"proba_{c}" for c in classes]
            if classes is not None and len(classes) == flat.shape[1]
            else [f"prediction_{i}" for i in range(flat.shape[1])]
        )
        columns = {name: np.ascontiguousarray(flat[:, i]) for i, name in enumerate(names)}
    table = pa.table(columns)
    sink = io.BytesIO()
    if kind == "arrow":
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, sink)
    return sink.getvalue()


def as_array(predictions: Any) -> Any:
    import numpy as np

    if hasattr(predictions, "to_numpy"):
        predictions = predictions.to_numpy()
    return np.asarray(predictions)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)

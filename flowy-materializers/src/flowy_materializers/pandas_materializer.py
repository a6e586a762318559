"""pandas DataFrames and Series as Parquet, through pyarrow.

Parquet keeps the index, the dtypes (categoricals with their categories and
order, nullable integers, strings, datetimes with time zones) and is readable
by every data tool. pyarrow's pandas metadata does the round trip; a Series
is stored as a one-column frame and its name is kept in Flowy's metadata.

Streaming: the frame is converted and written a slice of rows at a time
(about 32 MiB per slice, one row group each) under a schema computed once
for the whole frame, so writing never holds a second full copy of the data.
Reading needs a seekable file (the footer comes last): when the stream is
not seekable it is spooled to a temporary file first, and the Arrow table
is handed to pandas with ``self_destruct`` so Arrow's copy is freed column
by column while the frame is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from flowy.contracts import Materializer

from flowy_materializers._files import json_safe, spooled_path

if TYPE_CHECKING:
    import pandas as pd

SLICE_BYTES = 32 << 20
MAX_COLUMNS_DESCRIBED = 200
SERIES_COLUMN = "__flowy_series__"


def _rows_per_slice(df: pd.DataFrame) -> int:
    row_bytes = max(1, int(df.memory_usage(index=True, deep=False).sum()) // max(1, len(df)))
    return max(1024, SLICE_BYTES // row_bytes)


def write_parquet(df: pd.DataFrame, file: BinaryIO) -> None:
    """Write ``df`` as Parquet through ``file``, one slice of rows at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.Schema.from_pandas(df, preserve_index=None)
    step = _rows_per_slice(df)
    with pq.ParquetWriter(file, schema, compression="snappy") as writer:
        for start in range(0, max(len(df), 1), step):
            part = pa.Table.from_pandas(df.iloc[start : start + step], preserve_index=None)
            if not part.schema.equals(schema, check_metadata=False):
                # A slice can infer a narrower type (an all-null object column).
                part = part.cast(schema)
            writer.write_table(part)


def _read_table(source: Any) -> Any:
    """Row group by row group: pyarrow's whole-file read buffers every column chunk at once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(source, pre_buffer=False, memory_map=False)
    if parquet.num_row_groups <= 1:
        return parquet.read()
    return pa.concat_tables([parquet.read_row_group(i) for i in range(parquet.num_row_groups)])


def read_parquet(file: BinaryIO) -> pd.DataFrame:
    """Read Parquet back into pandas (spooling a forward-only stream to disk first)."""
    if file.seekable():
        table = _read_table(file)
    else:
        with spooled_path(file, ".parquet") as path:
            table = _read_table(path)
    # Arrow's copy is released column by column as pandas takes each one over.
    return table.to_pandas(self_destruct=True, split_blocks=True)  # type: ignore[no-any-return]


def _numeric_summary(series: pd.Series) -> tuple[int, dict[str, Any]]:
    """Null count and min/max/mean of a numeric column, without NaN-aware copies when clean."""
    import numpy as np

    values = series.to_numpy(dtype="float64", na_value=np.nan, copy=False)
    with np.errstate(all="ignore"):
        stats = [values.min(), values.max(), values.mean()] if len(values) else []
        nulls = int(np.count_nonzero(np.isnan(values))) if stats and np.isnan(stats[2]) else 0
        if nulls and nulls < len(values):
            stats = [np.nanmin(values), np.nanmax(values), np.nanmean(values)]
    if not stats or nulls == len(values):
        return nulls, {}
    named = zip(("min", "max", "mean"), stats, strict=True)
    return nulls, {k: json_safe(float(v)) for k, v in named}


def frame_metadata(df: pd.DataFrame) -> dict[str, Any]:
    """Rows, columns, dtypes, null counts and a per-column summary (numeric stats)."""
    columns = list(df.columns)
    shown = columns[:MAX_COLUMNS_DESCRIBED]
    summary: dict[str, Any] = {}
    for col in shown:
        series = df[col]
        dtype = series.dtype
        info: dict[str, Any] = {"dtype": str(dtype)}
        if getattr(dtype, "kind", "") in "iuf" and str(dtype) != "category":
            nulls, stats = _numeric_summary(series)
            info.update(nulls=nulls, **stats)
        else:
            info["nulls"] = int(series.isna().sum())
            if str(dtype) == "category":
                info.update(categories=len(series.cat.categories), ordered=bool(series.cat.ordered))
        summary[str(col)] = info
    index = df.index
    return {
        "rows": len(df),
        "columns": [str(c) for c in shown],
        "n_columns": len(columns),
        "dtypes": {str(c): str(df[c].dtype) for c in shown},
        "null_counts": {str(c): summary[str(c)]["nulls"] for c in shown},
        "summary": summary,
        "index": {"type": type(index).__name__, "names": [json_safe(n) for n in index.names]},
        "columns_truncated": len(columns) > len(shown),
    }


class PandasMaterializer(Materializer):
    """``pandas.DataFrame`` and ``pandas.Series`` as Parquet (index and dtypes round-trip)."""

    name = "pandas"
    version = "1"
    extension = ".parquet"

    def accepts(self, obj: Any) -> bool:
        import pandas as pd

        if isinstance(obj, pd.Series):
            return True
        # Parquet needs unique column labels; duplicates would be silently renamed.
        return bool(obj.columns.is_unique)

    def save(self, obj: Any, file: BinaryIO) -> dict[str, Any]:
        import pandas as pd

        if isinstance(obj, pd.Series):
            frame = obj.to_frame(name=SERIES_COLUMN)
            write_parquet(frame, file)
            meta = frame_metadata(frame)
            meta.update(kind="series", name=json_safe(obj.name), dtype=str(obj.dtype))
            return meta
        write_parquet(obj, file)
        meta = frame_metadata(obj)
        meta["kind"] = "frame"
        return meta

    def load(self, file: BinaryIO, metadata: Mapping[str, Any]) -> Any:
        df = read_parquet(file)
        if metadata.get("kind") == "series":
            series = df[SERIES_COLUMN]
            series.name = metadata.get("name")
            return series
        return df

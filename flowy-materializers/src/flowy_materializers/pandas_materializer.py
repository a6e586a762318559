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


def read_parquet(file: BinaryIO) -> pd.DataFrame:
    """Read Parquet back into pandas (spooling a forward-only stream to disk first)."""
    import pyarrow.parquet as pq

    if file.seekable():
        table = pq.read_table(file)
    else:
        with spooled_path(file, ".parquet") as path:
            table = pq.read_table(path, memory_map=False)
    return table.to_pandas(self_destruct=True, split_blocks=True)


def frame_metadata(df: pd.DataFrame) -> dict[str, Any]:
    """Rows, columns, dtypes, null counts and a per-column summary (numeric stats)."""
    import numpy as np

    columns = list(df.columns)
    shown = columns[:MAX_COLUMNS_DESCRIBED]
    nulls = df[shown].isna().sum() if shown else None
    summary: dict[str, Any] = {}
    for col in shown:
        series = df[col]
        dtype = series.dtype
        info: dict[str, Any] = {"dtype": str(dtype), "nulls": int(nulls[col])}  # type: ignore[index]
        if getattr(dtype, "kind", "") in "iuf" and len(series) > int(nulls[col]):  # type: ignore[index]
            values = series.to_numpy(dtype="float64", na_value=np.nan)
            with np.errstate(all="ignore"):
                info.update(
                    min=json_safe(float(np.nanmin(values))),
                    max=json_safe(float(np.nanmax(values))),
                    mean=json_safe(float(np.nanmean(values))),
                )
        elif str(dtype) == "category":
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
